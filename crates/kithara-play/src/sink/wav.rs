//! [`WavSink`]: renders the player's audio into a 32-bit float WAV file as fast as decoding
//! allows, with no real-time pacing and no inserted silence.

use std::{
    fs,
    io::BufWriter,
    path::{Path, PathBuf},
    thread::JoinHandle,
};

use super::{AudioSink, RunningSink, SinkFormat};
use crate::{Error, Output, Result};

/// Frames per write.
const BLOCK: usize = 4096;

type Writer = hound::WavWriter<BufWriter<fs::File>>;

/// A WAV file sink (`f32` samples). The file is complete once the player is closed
/// ([`Player::close`](crate::Player::close) returns the write's outcome).
///
/// It takes audio as soon as it is decoded ([`Output::render_blocking`]): what a pause holds
/// back is written after the resume, and the start buffer and underruns do not apply, so the
/// file holds exactly the frames played, back to back.
pub struct WavSink {
    path: PathBuf,
    format: SinkFormat,
    writer: Writer,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl WavSink {
    /// Creates (or truncates) the file at `path` for audio of `format`.
    ///
    /// # Errors
    /// [`Error::SinkFormat`] for a zero rate or channel count; [`Error::Wav`] when the file cannot
    /// be created.
    pub fn create(path: impl AsRef<Path>, format: SinkFormat) -> Result<Self> {
        if format.rate == 0 || format.channels == 0 {
            return Err(Error::SinkFormat {
                rate: format.rate,
                channels: format.channels,
            });
        }
        let path = path.as_ref().to_path_buf();
        let spec = hound::WavSpec {
            channels: format.channels,
            sample_rate: format.rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::create(&path, spec).map_err(|source| Error::Wav {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            path,
            format,
            writer,
        })
    }
}

impl AudioSink for WavSink {
    fn format(&self) -> SinkFormat {
        self.format
    }

    fn start(self: Box<Self>, output: Output) -> Result<Box<dyn RunningSink>> {
        let Self { path, writer, .. } = *self;
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("kithara-play-wav".into())
            .spawn(move || write_all(writer, output, &thread_path))
            .map_err(|source| Error::Start {
                what: "WAV sink thread",
                source,
            })?;
        Ok(Box::new(RunningWav {
            thread: Some(thread),
        }))
    }
}

/// Writes what the ring yields until the player closes, then finalizes the file.
fn write_all(mut writer: Writer, mut output: Output, path: &Path) -> Result<()> {
    let channels = usize::from(output.format().channels.max(1));
    let mut buf = vec![0.0f32; BLOCK * channels];
    let err = |source| Error::Wav {
        path: path.to_path_buf(),
        source,
    };
    while let Some(frames) = output.render_blocking(&mut buf) {
        for &s in &buf[..frames * channels] {
            writer.write_sample(s).map_err(err)?;
        }
    }
    writer.finalize().map_err(err)
}

#[derive(Debug)]
struct RunningWav {
    thread: Option<JoinHandle<Result<()>>>,
}

impl RunningSink for RunningWav {
    fn finish(mut self: Box<Self>) -> Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::SinkThread("WAV")),
            None => Ok(()),
        }
    }
}
