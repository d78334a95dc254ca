//! [`CpalSink`]: the default audio output device through cpal, in the device's own rate and
//! channel count. cpal calls the callback on its real-time thread; the callback only calls
//! [`Output::render`] and converts to the device's sample type in a buffer allocated up front.
//!
//! A cpal stream may not move between threads on every platform, so a thread of the sink's own
//! opens the device, owns the stream and drops it when the sink finishes.

use std::{sync::mpsc, thread::JoinHandle};

use cpal::{
    traits::{DeviceTrait, HostTrait, StreamTrait},
    FromSample, SampleFormat, SizedSample,
};

use super::{AudioSink, RunningSink, SinkFormat};
use crate::{Error, Output, Result};

/// Samples converted per piece when the device does not take `f32`.
const SCRATCH_FRAMES: usize = 4096;

/// The default output device.
#[derive(Debug)]
pub struct CpalSink {
    format: SinkFormat,
    to_thread: mpsc::Sender<Output>,
    started: mpsc::Receiver<Result<()>>,
    thread: JoinHandle<()>,
}

impl CpalSink {
    /// Opens the default output device of the default host and reads its default
    /// configuration (rate, channels, sample type).
    ///
    /// # Errors
    /// [`Error::Device`] when there is no default device or its configuration cannot be read;
    /// [`Error::Start`] when the sink's thread cannot start.
    pub fn default_device() -> Result<Self> {
        let (format_tx, format_rx) = mpsc::channel();
        let (to_thread, from_sink) = mpsc::channel();
        let (started_tx, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kithara-play-cpal".into())
            .spawn(move || run(&format_tx, &from_sink, &started_tx))
            .map_err(|source| Error::Start {
                what: "cpal sink thread",
                source,
            })?;
        let format = format_rx.recv().map_err(|_| Error::SinkThread("cpal"))??;
        Ok(Self {
            format,
            to_thread,
            started,
            thread,
        })
    }
}

fn device_error(
    what: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Error {
    move |source| Error::Device { what, source }
}

/// The sink's thread: opens the device, waits for the ring, plays until the sink finishes.
fn run(
    format_tx: &mpsc::Sender<Result<SinkFormat>>,
    from_sink: &mpsc::Receiver<Output>,
    started: &mpsc::Sender<Result<()>>,
) {
    let opened = (|| {
        let device = cpal::default_host()
            .default_output_device()
            .ok_or_else(|| device_error("no default output device")("none".into()))?;
        let supported = device
            .default_output_config()
            .map_err(|e| device_error("its default configuration")(e.into()))?;
        Ok((device, supported))
    })();
    let (device, supported) = match opened {
        Ok(x) => x,
        Err(e) => {
            let _ = format_tx.send(Err(e));
            return;
        }
    };
    let format = SinkFormat::new(supported.sample_rate().0, supported.channels());
    let _ = format_tx.send(Ok(format));
    let Ok(output) = from_sink.recv() else {
        return;
    };
    let config: cpal::StreamConfig = supported.config();
    let stream = match supported.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, &config, output),
        SampleFormat::F64 => build::<f64>(&device, &config, output),
        SampleFormat::I16 => build::<i16>(&device, &config, output),
        SampleFormat::I32 => build::<i32>(&device, &config, output),
        SampleFormat::U16 => build::<u16>(&device, &config, output),
        SampleFormat::U8 => build::<u8>(&device, &config, output),
        SampleFormat::I8 => build::<i8>(&device, &config, output),
        other => Err(device_error("its sample format")(
            format!("unsupported sample format {other}").into(),
        )),
    };
    let stream = stream.and_then(|s| {
        s.play()
            .map_err(|e| device_error("starting the stream")(e.into()))?;
        Ok(s)
    });
    match stream {
        Ok(stream) => {
            let _ = started.send(Ok(()));
            // Until the sink finishes (its sender is dropped).
            let _ = from_sink.recv();
            drop(stream);
        }
        Err(e) => {
            let _ = started.send(Err(e));
        }
    }
}

/// A stream whose callback renders into a scratch buffer and converts to `T`.
fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut output: Output,
) -> Result<cpal::Stream> {
    let channels = usize::from(config.channels.max(1));
    let mut scratch = vec![0.0f32; SCRATCH_FRAMES * channels];
    device
        .build_output_stream(
            config,
            move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
                for piece in data.chunks_mut(scratch.len()) {
                    let s = &mut scratch[..piece.len()];
                    output.render(s);
                    for (d, x) in piece.iter_mut().zip(s.iter()) {
                        *d = T::from_sample(*x);
                    }
                }
            },
            |e| tracing::warn!(error = %e, "audio device error"),
            None,
        )
        .map_err(|e| device_error("building the stream")(e.into()))
}

impl AudioSink for CpalSink {
    fn format(&self) -> SinkFormat {
        self.format
    }

    fn start(self: Box<Self>, output: Output) -> Result<Box<dyn RunningSink>> {
        let Self {
            to_thread,
            started,
            thread,
            ..
        } = *self;
        to_thread
            .send(output)
            .map_err(|_| Error::SinkThread("cpal"))?;
        started.recv().map_err(|_| Error::SinkThread("cpal"))??;
        Ok(Box::new(RunningCpal {
            to_thread: Some(to_thread),
            thread: Some(thread),
        }))
    }
}

struct RunningCpal {
    to_thread: Option<mpsc::Sender<Output>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningSink for RunningCpal {
    fn finish(mut self: Box<Self>) -> Result<()> {
        self.to_thread.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::SinkThread("cpal")),
            _ => Ok(()),
        }
    }
}

impl Drop for RunningCpal {
    fn drop(&mut self) {
        self.to_thread.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
