//! [`StreamMediaSource`]: any [`Stream<T>`] as a symphonia [`MediaSource`], and the
//! [`LayoutGate`] that hides its length and seekability while a format is probed.
//!
//! The orphan rule forbids implementing symphonia's trait on kithara's type, so this wrapper does.
//! It shares the stream behind a mutex so that the [`Decoder`](crate::Decoder) that owns the
//! wrapper (inside symphonia's reader) can still reach the stream, and hand it back with
//! [`Decoder::into_stream`](crate::Decoder::into_stream).
//!
//! A wrapper is a *window* on the stream: it starts at a byte (`base`, the stream's position when
//! it was made, where it starts the stream's window with [`Stream::start_window`]), optionally
//! behind a few bytes of its own (`prefix`: the init section that the bytes at `base` need, when
//! they do not start with it), and ends where the stream's fenced read stops: at the first
//! [`Boundary`] after `base`, which it presents as the end of the source. symphonia reads ahead
//! into its buffer, so without that fence one format reader would read the bytes of the next
//! variant or run as if they continued its own. The fence is the stream's
//! ([`Stream::read_fenced`]); the wrapper only maps its own byte space onto the stream's.

use std::{
    io::{self, Read, Seek, SeekFrom},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
};

use kithara_stream::{Boundary, Fenced, Source, Stream, StreamType};
use symphonia::core::io::MediaSource;

pub(crate) use crate::progress::Progress;

/// A [`Stream<T>`] shared between a [`StreamMediaSource`] and its owner.
pub(crate) type SharedStream<T> = Arc<Mutex<Stream<T>>>;

pub(crate) fn lock<T: StreamType>(s: &SharedStream<T>) -> MutexGuard<'_, Stream<T>> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stream back from its shared handle, once every reader over it has been dropped.
///
/// The decoder shares the stream only with the format readers it owns, and drops them first,
/// so the handle is unique here: the other arm cannot be reached by any input.
pub(crate) fn unshare<T: StreamType>(s: SharedStream<T>) -> Stream<T> {
    match Arc::try_unwrap(s) {
        Ok(m) => m.into_inner().unwrap_or_else(PoisonError::into_inner),
        Err(_) => unreachable!("a format reader outlived the decoder that owned it"),
    }
}

/// Any [`Stream<T>`] as a symphonia [`MediaSource`]: reads and seeks go straight to the stream
/// (which blocks until bytes arrive, and publishes the reader's position itself).
///
/// The wrapper starts at the stream's position when it is made (byte 0 of the wrapper) and ends at
/// the first [`Boundary`] after it (a variant switch, discontinuity, new init section or seek
/// jump of a `Stream<Hls>`): there it reports the end of the source, so one symphonia format
/// reader never reads across a change of codec set-up. [`StreamMediaSource::boundary`] then says
/// which boundary ended it. Progressive files have no boundaries.
///
/// Use it when you run symphonia yourself; [`Decoder`](crate::Decoder) uses it too, and opens a
/// new format reader at each boundary.
///
/// ```
/// # use kithara_file::{File, FileConfig};
/// # use kithara_stream::{dl::{Downloader, DownloaderConfig}, Stream};
/// # use kithara_test_support::{media, LoopbackServer};
/// use kithara_decode::StreamMediaSource;
/// use symphonia::core::{
///     codecs::audio::AudioDecoderOptions,
///     formats::{probe::Hint, FormatOptions, TrackType},
///     io::MediaSourceStream,
///     meta::MetadataOptions,
/// };
///
/// # let rt = tokio::runtime::Runtime::new()?;
/// # let server = LoopbackServer::start()?;
/// # server.mount_media("/media");
/// # let dl = Downloader::new(DownloaderConfig::builder().system_proxy(false).build())?;
/// # let url = server.url("/media/chirp.flac");
/// # let stream = rt.block_on(Stream::<File>::new(FileConfig::remote(url, dl).build()))?;
/// // `stream` is a `Stream<File>` (or `Stream<Hls>`); read it on a thread that may block.
/// let (source, gate) = StreamMediaSource::hidden(stream);
/// let mss = MediaSourceStream::new(Box::new(source), Default::default());
/// // While hidden, symphonia's probe cannot seek to the end of the file to look for tags.
/// let mut format = symphonia::default::get_probe().probe(
///     &Hint::new(),
///     mss,
///     FormatOptions::default(),
///     MetadataOptions::default(),
/// )?;
/// gate.reveal(); // seeking works from here on
/// let track = format.default_track(TrackType::Audio).ok_or("no audio track")?;
/// let (id, params) = (track.id, track.codec_params.clone().ok_or("no codec")?);
/// let params = params.audio().ok_or("not audio")?.clone();
/// let mut decoder = symphonia::default::get_codecs()
///     .make_audio_decoder(&params, &AudioDecoderOptions::default())?;
/// let mut frames = 0;
/// while let Some(packet) = format.next_packet()? {
///     if packet.track_id == id {
///         frames += decoder.decode(&packet)?.frames();
///     }
/// }
/// assert_eq!(frames, 4 * 22_050);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StreamMediaSource<T: StreamType> {
    stream: SharedStream<T>,
    hidden: Arc<AtomicBool>,
    progress: Arc<Progress>,
    /// Stream offset of the first byte after the prefix.
    base: u64,
    /// Bytes presented before the stream's (an fMP4 init section), usually none.
    prefix: Arc<[u8]>,
    /// Position in the wrapper's own byte space (prefix, then the stream from `base`).
    vpos: u64,
    /// Bytes a read got past a metadata mark that arrived while it waited, handed out by the
    /// next reads (from stream byte `carry_at`) rather than read again: a ring may have dropped
    /// them once read.
    carry: Vec<u8>,
    carry_at: u64,
}

impl<T: StreamType> std::fmt::Debug for StreamMediaSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMediaSource")
            .field("hidden", &self.hidden.load(Ordering::Relaxed))
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

/// Hides or reveals the length and seekability of a [`StreamMediaSource`].
///
/// While hidden, `is_seekable()` is false and `byte_len()` is `None`, so symphonia's probe skips
/// its scan for trailing tags (ID3v1, APE) and readers skip duration estimates that seek to the end:
/// probing never requests the tail of the file nor forces its whole download.
#[derive(Debug, Clone)]
pub struct LayoutGate(Arc<AtomicBool>);

impl LayoutGate {
    /// Makes length and seekability visible (as the stream reports them).
    pub fn reveal(&self) {
        self.0.store(false, Ordering::Release);
    }

    /// Hides length and seekability again.
    pub fn hide(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether length and seekability are hidden.
    pub fn is_hidden(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl<T: StreamType> StreamMediaSource<T> {
    /// Wraps `stream` from its current position, with its length and seekability visible.
    pub fn new(stream: Stream<T>) -> Self {
        let (s, gate) = Self::hidden(stream);
        gate.reveal();
        s
    }

    /// Wraps `stream` from its current position, with its length and seekability hidden until the
    /// returned gate reveals them.
    pub fn hidden(mut stream: Stream<T>) -> (Self, LayoutGate) {
        let base = stream.position();
        // The reader starts over here: a boundary at `base` is behind it.
        stream.start_window();
        Self::build(Arc::new(Mutex::new(stream)), base, Arc::from(Vec::new()))
    }

    /// A window on the shared stream from byte `base`, behind `prefix`: moves the stream there
    /// and starts its window there.
    pub(crate) fn window(
        stream: SharedStream<T>,
        base: u64,
        prefix: Arc<[u8]>,
    ) -> io::Result<(Self, LayoutGate)> {
        {
            let mut s = lock(&stream);
            if s.position() != base {
                s.seek(SeekFrom::Start(base))?;
            }
            s.start_window();
        }
        Ok(Self::build(stream, base, prefix))
    }

    fn build(stream: SharedStream<T>, base: u64, prefix: Arc<[u8]>) -> (Self, LayoutGate) {
        let progress = Arc::new(Progress::default());
        progress.update(&lock(&stream));
        let hidden = Arc::new(AtomicBool::new(true));
        let s = Self {
            stream,
            hidden: Arc::clone(&hidden),
            progress,
            base,
            prefix,
            vpos: 0,
            carry: Vec::new(),
            carry_at: 0,
        };
        (s, LayoutGate(hidden))
    }

    /// The boundary at which this source ended, once a read has stopped there (`None` before,
    /// and always for progressive files).
    pub fn boundary(&self) -> Option<Boundary> {
        self.progress.boundary()
    }

    fn prefix_len(&self) -> u64 {
        self.prefix.len() as u64
    }

    /// Length of the window: up to the boundary the stream says ends it, else the stream's end.
    fn window_len(&self, s: &Stream<T>) -> Option<u64> {
        let end = match s.window_end() {
            Some(b) => {
                let pos = b.pos;
                self.progress.set_window_end(b);
                Some(pos)
            }
            None => s.len(),
        }?;
        Some(end.saturating_sub(self.base) + self.prefix_len())
    }

    /// The reader's progress, readable from another owner.
    pub(crate) fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }
}

impl<T: StreamType> Read for StreamMediaSource<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let plen = self.prefix_len();
        if self.vpos < plen {
            // Both fit in usize: vpos < plen = prefix.len().
            let from = usize::try_from(self.vpos).unwrap_or(usize::MAX);
            let n = buf.len().min(self.prefix.len() - from);
            buf[..n].copy_from_slice(&self.prefix[from..from + n]);
            self.vpos += n as u64;
            return Ok(n);
        }
        let at = self.base + (self.vpos - plen);
        // A further file starts there (MPEG audio back to back): the next reader reads it.
        if self.progress.join().is_some_and(|j| at >= j) {
            return Ok(0);
        }
        // Stops at the next byte a metadata mark is watched at.
        let want = self.progress.read_len(at, buf.len());
        if !self.carry.is_empty() {
            if self.carry_at == at {
                let k = want.min(self.carry.len());
                buf[..k].copy_from_slice(&self.carry[..k]);
                self.carry.drain(..k);
                self.carry_at += k as u64;
                self.vpos += k as u64;
                return Ok(k);
            }
            // The reader moved elsewhere.
            self.carry.clear();
        }
        let mut s = lock(&self.stream);
        if s.position() != at {
            s.seek(SeekFrom::Start(at))?;
        }
        // The variant at the read position, taken only if the read stays in the window.
        let here = self
            .progress
            .variant()
            .is_none()
            .then(|| s.source().current_variant())
            .flatten();
        let got = s
            .read_fenced(&mut buf[..want])
            .map_err(kithara_stream::Error::into_io)?;
        self.progress.update(&s);
        match got {
            Fenced::Bytes(n) => {
                // Cut before a further file's start; the bytes from there belong to the next
                // reader (none when it starts before this read: the end of this source).
                let n = match self.progress.find_join(at, &buf[..n]) {
                    Some(j) => usize::try_from(j.saturating_sub(at)).map_or(n, |k| k.min(n)),
                    None => n,
                };
                // Marks recorded while the read waited: cut at the first one after `at`.
                let marks = s.source().metadata_marks(self.progress.mark_seq());
                let kept = if marks.is_empty() {
                    n
                } else {
                    self.progress.keep_before_marks(at, n, marks)
                };
                if kept < n {
                    self.carry.clear();
                    self.carry.extend_from_slice(&buf[kept..n]);
                    self.carry_at = at + kept as u64;
                }
                let n = kept;
                if here.is_some() {
                    self.progress.set_variant(here);
                }
                self.vpos += n as u64;
                Ok(n)
            }
            // The stream stops at the boundary after the window's start: the end of this source.
            Fenced::Boundary(b) => {
                self.progress.set_boundary(b);
                Ok(0)
            }
            _ => Ok(0),
        }
    }
}

impl<T: StreamType> Seek for StreamMediaSource<T> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let mut s = lock(&self.stream);
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.vpos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let len = self.window_len(&s).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        "seek from the end of a stream whose length is unknown",
                    )
                })?;
                len.checked_add_signed(d)
            }
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before byte 0"))?;
        let plen = self.prefix_len();
        self.vpos = target;
        if target >= plen {
            s.seek(SeekFrom::Start(self.base + (target - plen)))?;
        }
        self.progress.update(&s);
        Ok(target)
    }
}

impl<T: StreamType> MediaSource for StreamMediaSource<T> {
    fn is_seekable(&self) -> bool {
        if self.hidden.load(Ordering::Acquire) {
            return false;
        }
        let s = lock(&self.stream);
        // A stream that maps time (segmented media) is seekable for a reader only once its
        // window's end is known (a reader that can seek asks for the end first).
        s.source().is_seekable() && (!s.timeline().maps_time() || self.window_len(&s).is_some())
    }

    fn byte_len(&self) -> Option<u64> {
        if self.hidden.load(Ordering::Acquire) {
            return None;
        }
        self.window_len(&lock(&self.stream))
    }
}
