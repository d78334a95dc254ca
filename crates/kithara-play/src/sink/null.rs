//! [`NullSink`]: consumes the player's audio at the real-time rate, like a device without sound:
//! its own thread renders one period at a time, paced by deadlines on the monotonic clock (it
//! sleeps until the next one; no busy wait, no drift).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{AudioSink, RunningSink, SinkFormat};
use crate::{Error, Output, Result};

/// A real-time sink without sound, for tests, benchmarks and headless use.
#[derive(Debug)]
pub struct NullSink {
    format: SinkFormat,
    period: Duration,
    capture: Option<Capture>,
}

/// The audio a [`NullSink`] took from the ring (silence it output is not kept), shared with the
/// sink's thread. Capturing allocates on the sink's thread, which a real device must not; it is a
/// test aid.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    samples: Arc<Mutex<Vec<f32>>>,
}

impl Capture {
    /// A copy of the samples captured so far (interleaved).
    pub fn samples(&self) -> Vec<f32> {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl NullSink {
    /// A null sink of `format` with a 10 ms period.
    pub fn new(format: SinkFormat) -> Self {
        Self {
            format,
            period: Duration::from_millis(10),
            capture: None,
        }
    }

    /// Sets the period: how much audio one render takes (a device's buffer size).
    #[must_use]
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period.max(Duration::from_millis(1));
        self
    }

    /// Keeps the audio taken from the ring; returns the handle to read it.
    pub fn capture(&mut self) -> Capture {
        let capture = Capture::default();
        self.capture = Some(capture.clone());
        capture
    }
}

impl AudioSink for NullSink {
    fn format(&self) -> SinkFormat {
        self.format
    }

    fn start(self: Box<Self>, output: Output) -> Result<Box<dyn RunningSink>> {
        if self.format.rate == 0 || self.format.channels == 0 {
            return Err(Error::SinkFormat {
                rate: self.format.rate,
                channels: self.format.channels,
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kithara-play-null".into())
            .spawn(move || run(*self, output, &thread_stop))
            .map_err(|source| Error::Start {
                what: "null sink thread",
                source,
            })?;
        Ok(Box::new(RunningNull {
            stop,
            thread: Some(thread),
        }))
    }
}

/// Renders one period per deadline until stopped or the player closes.
fn run(sink: NullSink, mut output: Output, stop: &AtomicBool) {
    let channels = usize::from(sink.format.channels);
    let frames = (u128::from(sink.format.rate) * sink.period.as_nanos() / 1_000_000_000).max(1);
    let frames = usize::try_from(frames).unwrap_or(1);
    // The period as the frames it holds, so the clock matches the rate exactly on average.
    let period = Duration::from_nanos(
        u64::try_from(frames as u128 * 1_000_000_000 / u128::from(sink.format.rate))
            .unwrap_or(u64::MAX),
    );
    let mut buf = vec![0.0f32; frames * channels];
    let mut deadline = Instant::now();
    while !stop.load(Ordering::Acquire) && !output.is_closed() {
        let taken = output.render(&mut buf);
        if let Some(capture) = &sink.capture {
            capture
                .samples
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(&buf[..taken * channels]);
        }
        deadline += period;
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        } else if now - deadline > period * 10 {
            // Far behind (a suspended machine): start the clock again instead of racing.
            deadline = now;
        }
    }
}

#[derive(Debug)]
struct RunningNull {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RunningSink for RunningNull {
    fn finish(mut self: Box<Self>) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::SinkThread("null")),
            _ => Ok(()),
        }
    }
}

impl Drop for RunningNull {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
