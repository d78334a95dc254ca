//! [`Decoder`]: a [`Stream<T>`] in, [`PcmChunk`]s out, with frame-accurate seeking, and a new
//! format reader at every boundary of the stream.
//!
//! The generic [`Decoder<T>`] keeps the shared stream; the work happens in the non-generic `Core`
//! (format reader + codec). Each core reads a window of the stream that ends at the next
//! boundary; when it gets there the decoder opens a new core at the boundary (see `boundary.rs`),
//! and a seek on a stream that seeks by time opens one where the stream's time seek lands (see
//! `time_seek.rs`).

use std::{sync::Arc, time::Duration};

use kithara_stream::{ContainerFormat, MediaInfo, NowPlaying, Source, Stream, StreamType};

use crate::{
    change::StreamChange,
    chunk::{frames_to_duration, PcmChunk},
    config::{DecoderConfig, TimeAccuracy},
    engine::{Core, Step},
    error::{Error, Origin, Result},
    info::TrackInfo,
    joins::JoinScan,
    marks::MarkState,
    media_source::{lock, SharedStream, StreamMediaSource},
};

/// Decodes a [`Stream<T>`] to [`PcmChunk`]s.
///
/// Every method blocks while the stream waits for bytes: call them from a thread that may block
/// (a decoder thread or `spawn_blocking`), never from inside an async task. The decoder reads the
/// stream through [`StreamMediaSource`]; the stream itself publishes read positions and seeks to
/// the downloader, the decoder publishes nothing.
///
/// On a segmented stream (`Stream<Hls>`) the decoder crosses the stream's boundaries by itself
/// and reports each on the first chunk after it ([`PcmChunk::change`]); [`Decoder::seek`] uses
/// the stream's seek by time.
pub struct Decoder<T: StreamType> {
    pub(crate) core: Core,
    pub(crate) stream: SharedStream<T>,
    pub(crate) config: DecoderConfig,
    pub(crate) origin: Origin,
    /// A boundary crossed whose report waits for the next chunk.
    pub(crate) change: Option<StreamChange>,
    /// The frame at which the decoder last sought back after a seek jump (see `boundary.rs`).
    pub(crate) resumed_at: Option<u64>,
    /// The metadata marks not reported yet, and what is playing.
    pub(crate) marks: MarkState,
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
        // A segmented stream's tags are those of its first segment, which its source reports
        // as timed metadata (HLS: the ID3 tag of a packed-audio segment): not the track's.
        let segmented = stream.timeline().maps_time();
        let shared = Arc::new(std::sync::Mutex::new(stream));
        let origin = Origin(config.origin.clone());
        // From byte 0 (a retry starts there again).
        let mut core = open_core(&shared, 0, Arc::from(Vec::new()), hints, &origin, &config)?;
        {
            let mut s = lock(&shared);
            // The tags at the end of a progressive file, where the head's have none.
            if let Some(tail) = crate::tail_tags::read(&mut s, config.fetch_tail_tags) {
                core.info.tags.fill_from(tail);
            }
            if s.timeline().maps_time() {
                // A stream that maps its bytes to time (segmented media) owns the duration (a
                // playlist's); what the first window's container declares covers that window only.
                core.info.duration = s.timeline().duration();
                core.info.frames = None;
            }
        }
        let mut marks = MarkState::default();
        let tags = core.info.tags.now_playing().filter(|_| !segmented);
        marks.set_current(tags.clone());
        marks.tags(tags);
        Ok(Self {
            core,
            stream: shared,
            config,
            origin,
            change: None,
            resumed_at: None,
            marks,
        })
    }

    /// The next chunk of PCM; `Ok(None)` at the end of the track.
    ///
    /// At a boundary of the stream the decoder drains the reader that ends there, opens a new one
    /// for the bytes after it and goes on; the first chunk after it carries the
    /// [`StreamChange`].
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] after the last decodable chunk of a file that ends early;
    /// [`Error::Stream`] when reading fails; [`Error::Malformed`] when the data cannot be decoded;
    /// the errors of [`Decoder::new`] when the format after a boundary cannot be opened.
    pub fn next_chunk(&mut self) -> Result<Option<PcmChunk>> {
        self.poll_marks();
        loop {
            match self.core.next_chunk()? {
                Step::Chunk(mut c) => {
                    c.change = self.change.take().map(|mut ch| {
                        ch.variant = ch.variant.or(c.variant);
                        ch
                    });
                    // Marks the reads for this chunk let the source find (timed metadata in
                    // the segment just read).
                    self.poll_marks();
                    let progress = self.core.progress();
                    self.marks.attach(&mut c, |p| progress.reached(p));
                    return Ok(Some(c));
                }
                Step::End => return Ok(None),
                Step::Boundary(b) => self.cross(b)?,
                Step::Join(at) => self.join(at)?,
            }
        }
    }

    /// What is playing as of the last chunk handed out (after a seek: the latest change at or
    /// before the new position): the latest metadata mark reported, else the file's tags.
    pub fn now_playing(&self) -> Option<&NowPlaying> {
        self.marks.current()
    }

    /// Takes the marks the source recorded since the last look, and has the reader stop at the
    /// bytes where the pending ones take effect. Allocates nothing when there are none.
    fn poll_marks(&mut self) {
        let new = lock(&self.stream)
            .source()
            .metadata_marks(self.marks.next_seq());
        if !new.is_empty() {
            self.marks.add(new);
        }
        // Also for a reader opened since the last look (a boundary, a seek, a join).
        self.core.progress().watch(self.marks.watched());
    }

    /// Opens a new reader where a further file starts (MPEG audio files back to back): its own
    /// delay and padding are trimmed, its timeline continues from the last frame handed out, and
    /// its tags are reported with its first chunk.
    fn join(&mut self, at: u64) -> Result<()> {
        let frame = self.core.next_frame;
        tracing::debug!(pos = at, frame, "a further file starts: new reader");
        let hints = self.hints_at(None);
        let mut core = self.reader_at(at, None, hints)?;
        core.shift(frame);
        self.marks.tags(core.info.tags.now_playing());
        self.core = core;
        Ok(())
    }

    /// Seeks to `to`: the first sample of the next chunk is the one at `to` (rounded to the nearest
    /// frame).
    ///
    /// On a stream that seeks by time (`Stream<Hls>`), the stream lands on the start of the
    /// segment holding `to` less the codec's pre-roll, a new format reader opens there (after the
    /// fMP4 init section, re-read), and the decoder discards the output before `to`. On a file the
    /// format reader seeks to an earlier packet and the decoder discards the output before `to`.
    /// Either way codecs that depend on earlier packets (overlapping transforms, the MP3 bit
    /// reservoir) are primed.
    ///
    /// # Errors
    ///
    /// [`Error::Seek`] if the reader cannot seek there (e.g. past the end) or the segmented
    /// stream cannot seek by time (live); [`Error::Stream`] if
    /// the stream's seek by time fails; the errors of [`Decoder::new`] if the reader at the
    /// segment cannot be opened.
    ///
    /// On an MPEG audio file (MP3) with [`SeekMode::Fast`](crate::SeekMode::Fast) (the default)
    /// and a constant bitrate or a seek table, the stream jumps to the byte the target's frame
    /// starts at (less a few frames of pre-roll) instead of the reader walking every frame from
    /// the start; by a table the landing is an estimate ([`Decoder::time_accuracy`] says how
    /// good); see [`SeekMode`](crate::SeekMode).
    pub fn seek(&mut self, to: Duration) -> Result<()> {
        self.resumed_at = None;
        if !(self.seek_by_stream_time(to)? || self.seek_mpeg_audio(to)?) {
            self.core.seek(to)?;
        }
        let (all, pos) = {
            let s = lock(&self.stream);
            (s.source().metadata_marks(0), s.position())
        };
        self.marks.seek(to, pos, all);
        Ok(())
    }

    /// Media time of the next frame to be returned (an estimate after a seek by a
    /// variable-bitrate MP3's table: see [`Decoder::time_accuracy`]).
    pub fn position(&self) -> Duration {
        frames_to_duration(self.core.next_frame, self.core.info.sample_rate)
    }

    /// Whether the chunks' times (and [`Decoder::position`]) are exact, or an estimate within a
    /// bound: the latter only after a [`SeekMode::Fast`](crate::SeekMode::Fast) seek by a
    /// variable-bitrate MP3's seek table, until the next seek.
    pub fn time_accuracy(&self) -> TimeAccuracy {
        match self.core.uncertainty {
            0 => TimeAccuracy::Exact,
            f => TimeAccuracy::Within(frames_to_duration(f, self.core.info.sample_rate)),
        }
    }

    /// Facts about the track (after a boundary: the track after it).
    pub fn info(&self) -> &TrackInfo {
        &self.core.info
    }

    /// Runs `f` with the stream (events, hooks, timeline, length). Do not read from it.
    pub fn with_stream<R>(&self, f: impl FnOnce(&Stream<T>) -> R) -> R {
        f(&lock(&self.stream))
    }

    /// Drops the format reader and codec and returns the stream, positioned where the reader left
    /// it (symphonia reads ahead, so usually past the last decoded packet).
    pub fn into_stream(self) -> Stream<T> {
        let Self { core, stream, .. } = self;
        // The reader held the only other handle on the stream.
        drop(core);
        crate::media_source::unshare(stream)
    }

    /// The hints for a reader opened at stream byte `pos`: what the stream says there first (the
    /// boundary's facts), then the config's, then the stream's current ones.
    pub(crate) fn hints_at(&self, boundary: Option<MediaInfo>) -> MediaInfo {
        let stream = lock(&self.stream).media_info();
        let mut h = boundary.unwrap_or_default();
        if let Some(c) = self.config.media_info {
            h = h.or(c);
        }
        if let Some(s) = stream {
            h = h.or(s);
        }
        h
    }
}

/// Opens a core over the window of `stream` that starts at byte `base` (where the stream is),
/// behind `prefix`. A container hint the bytes contradict (a mislabelled `Content-Type` or
/// extension) costs one failed attempt, then the content is probed.
pub(crate) fn open_core<T: StreamType>(
    stream: &SharedStream<T>,
    base: u64,
    prefix: Arc<[u8]>,
    hints: MediaInfo,
    origin: &Origin,
    config: &DecoderConfig,
) -> Result<Core> {
    let attempt = |hints: MediaInfo| {
        // Each attempt starts at `base` again.
        let (source, gate) =
            StreamMediaSource::window(Arc::clone(stream), base, Arc::clone(&prefix)).map_err(
                |e| Error::Stream {
                    origin: origin.clone(),
                    pos: base,
                    source: e,
                },
            )?;
        let progress = source.progress();
        // Files back to back are looked for in an MPEG audio stream that is not segmented.
        let scan = !lock(stream).timeline().maps_time();
        if scan && hints.container == Some(ContainerFormat::MpegAudio) {
            progress.scan_joins(JoinScan::new(base));
        }
        let core = Core::open(
            Box::new(source),
            &gate,
            Arc::clone(&progress),
            hints,
            origin.clone(),
            config,
        )?;
        if scan && core.info.container == Some(ContainerFormat::MpegAudio) {
            // Without the hint: from the bytes after those probing read.
            progress.scan_joins(JoinScan::from(progress.pos()));
        }
        Ok(core)
    };
    match attempt(hints) {
        Err(Error::UnknownFormat { .. }) if hints.container.is_some() => {
            tracing::warn!(hint = ?hints.container, "the bytes do not match the container hint; probing the content");
            let mut unhinted = hints;
            unhinted.container = None;
            attempt(unhinted)
        }
        other => other,
    }
}
