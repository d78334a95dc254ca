//! Sinks: where the player's audio goes. [`AudioSink`] is the small trait a sink implements:
//! it names its format (the player converts every track to it) and, when started, consumes the
//! player's ring through an [`Output`].
//!
//! Two sinks come with the crate: [`WavSink`] (renders to a file as fast as decoding allows) and
//! [`NullSink`] (consumes at the real-time rate, like a device without sound); two more behind
//! features: `CpalSink` (`cpal`: the default audio device) and `RodioSink` (`rodio`: the player
//! as a `rodio::Source`).

#[cfg(feature = "cpal")]
mod cpal;
mod null;
#[cfg(feature = "rodio")]
mod rodio;
mod wav;

#[cfg(feature = "cpal")]
pub use self::cpal::CpalSink;
#[cfg(feature = "rodio")]
pub use self::rodio::{rodio_source, RodioSink, RodioSource};
pub use null::{Capture, NullSink};
pub use wav::WavSink;

use crate::{Output, Result};

/// The format a sink consumes: interleaved `f32` at `rate` Hz with `channels` channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkFormat {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: u16,
}

impl SinkFormat {
    /// A format of `rate` Hz and `channels` channels.
    pub fn new(rate: u32, channels: u16) -> Self {
        Self { rate, channels }
    }
}

/// An audio output.
///
/// Format negotiation is the sink's call: [`format`](Self::format) says what it consumes (a
/// device's own rate and channels, a file's chosen ones) and the player converts every track to
/// it. [`start`](Self::start) hands the sink the consuming half of the ring: a real-time sink
/// calls [`Output::render`] from its audio callback (never blocks, allocates or locks); an offline
/// sink calls [`Output::render_blocking`] from its own thread.
pub trait AudioSink: Send + 'static {
    /// The format this sink consumes.
    fn format(&self) -> SinkFormat;

    /// Starts consuming `output`; returns the running sink, stopped by
    /// [`RunningSink::finish`] (or by dropping it).
    ///
    /// # Errors
    /// When the sink cannot start (its thread, device or file).
    fn start(self: Box<Self>, output: Output) -> Result<Box<dyn RunningSink>>;
}

/// A started sink.
pub trait RunningSink: Send {
    /// Stops the sink (the player has been closed, so its `Output` says so) and reports how it
    /// went: a file sink finalizes its file here.
    ///
    /// # Errors
    /// What the sink met (a write error, a thread that panicked).
    fn finish(self: Box<Self>) -> Result<()>;
}
