//! [`Decoder`]: a [`Stream<T>`] in, [`PcmChunk`]s out, with frame-accurate seeking.
//!
//! The generic [`Decoder<T>`] only keeps the shared stream; the work happens in the non-generic
//! `Core` (format reader + codec), so a later owner can drop a core and build a new one over the
//! same stream at a boundary (variant switch, discontinuity, new init segment).

use std::{
    io::{Seek, SeekFrom},
    sync::Arc,
    time::Duration,
};

use kithara_stream::{MediaInfo, Stream, StreamType};

use crate::{
    chunk::{frames_to_duration, PcmChunk},
    config::DecoderConfig,
    engine::Core,
    error::{Error, Origin, Result},
    info::TrackInfo,
    media_source::{lock, SharedStream, StreamMediaSource},
};

/// Decodes a [`Stream<T>`] to [`PcmChunk`]s.
///
/// Every method blocks while the stream waits for bytes: call them from a thread that may block
/// (a decoder thread or `spawn_blocking`), never from inside an async task. The decoder reads the
/// stream through [`StreamMediaSource`]; the stream itself publishes read positions and seeks to
/// the downloader, the decoder publishes nothing.
pub struct Decoder<T: StreamType> {
    core: Core,
    stream: SharedStream<T>,
}

impl<T: StreamType> std::fmt::Debug for Decoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("info", &self.core.info)
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl<T: StreamType> Decoder<T> {
    /// Probes `stream` and prepares to decode its first audio track. Blocks until the bytes that
    /// probing needs have arrived.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`], [`Error::HtmlPage`], [`Error::UnknownFormat`], [`Error::NoAudioTrack`],
    /// [`Error::UnsupportedCodec`], or [`Error::Stream`] when reading fails.
    pub fn new(stream: Stream<T>, config: DecoderConfig) -> Result<Self> {
        let hints = match (config.media_info, stream.media_info()) {
            (Some(a), Some(b)) => a.or(b),
            (a, b) => a.or(b).unwrap_or_default(),
        };
        let shared = Arc::new(std::sync::Mutex::new(stream));
        let origin = Origin(config.origin.clone());
        let attempt = |hints: MediaInfo| {
            let (mut source, gate) = StreamMediaSource::from_shared(Arc::clone(&shared));
            // A retry starts from byte 0 again (a no-op the first time).
            source.seek(SeekFrom::Start(0)).map_err(|e| Error::Stream {
                origin: origin.clone(),
                pos: 0,
                source: e,
            })?;
            let progress = source.progress();
            Core::open(
                Box::new(source),
                &gate,
                progress,
                hints,
                origin.clone(),
                &config,
            )
        };
        let core = match attempt(hints) {
            // The hint was wrong (a mislabelled Content-Type or extension): sniff the content.
            Err(Error::UnknownFormat { .. }) if hints.container.is_some() => {
                tracing::warn!(hint = ?hints.container, "the bytes do not match the container hint; probing the content");
                let mut unhinted = hints;
                unhinted.container = None;
                attempt(unhinted)?
            }
            other => other?,
        };
        Ok(Self {
            core,
            stream: shared,
        })
    }

    /// The next chunk of PCM; `Ok(None)` at the end of the track.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] after the last decodable chunk of a file that ends early;
    /// [`Error::Stream`] when reading fails; [`Error::Malformed`] when the data cannot be decoded.
    pub fn next_chunk(&mut self) -> Result<Option<PcmChunk>> {
        self.core.next_chunk()
    }

    /// Seeks to `to`: the first sample of the next chunk is the one at `to` (rounded to the nearest
    /// frame). The reader lands on an earlier packet and the decoder discards the output before `to`,
    /// so codecs that depend on earlier packets (overlapping transforms, the MP3 bit reservoir) are
    /// primed.
    ///
    /// # Errors
    ///
    /// [`Error::Seek`] if the reader cannot seek there (e.g. past the end).
    pub fn seek(&mut self, to: Duration) -> Result<()> {
        self.core.seek(to)
    }

    /// Media time of the next frame to be returned.
    pub fn position(&self) -> Duration {
        frames_to_duration(self.core.next_frame, self.core.info.sample_rate)
    }

    /// Facts about the track.
    pub fn info(&self) -> &TrackInfo {
        &self.core.info
    }

    /// Runs `f` with the stream (events, hooks, timeline, length). Do not read from it.
    pub fn with_stream<R>(&self, f: impl FnOnce(&Stream<T>) -> R) -> R {
        f(&lock(&self.stream))
    }

    /// Drops the format reader and codec and returns the stream, positioned where the reader left
    /// it (symphonia reads ahead, so usually past the last decoded packet). `None` only if the
    /// stream is still shared, which the decoder never does.
    pub fn into_stream(self) -> Option<Stream<T>> {
        let Self { core, stream } = self;
        drop(core);
        Arc::try_unwrap(stream).ok().map(|m| {
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }
}
