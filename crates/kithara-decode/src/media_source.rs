//! [`StreamMediaSource`]: any [`Stream<T>`] as a symphonia [`MediaSource`], and the
//! [`LayoutGate`] that hides its length and seekability while a format is probed.
//!
//! The orphan rule forbids implementing symphonia's trait on kithara's type, so this wrapper does.
//! It shares the stream behind a mutex so that the [`Decoder`](crate::Decoder) that owns the
//! wrapper (inside symphonia's reader) can still reach the stream, and hand it back with
//! [`Decoder::into_stream`](crate::Decoder::into_stream).

use std::{
    io::{self, Read, Seek, SeekFrom},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
};

use kithara_stream::{Source, Stream, StreamType};
use symphonia::core::io::MediaSource;

/// A [`Stream<T>`] shared between a [`StreamMediaSource`] and its owner.
pub(crate) type SharedStream<T> = Arc<Mutex<Stream<T>>>;

pub(crate) fn lock<T: StreamType>(s: &SharedStream<T>) -> MutexGuard<'_, Stream<T>> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Any [`Stream<T>`] as a symphonia [`MediaSource`]: reads and seeks go straight to the stream
/// (which blocks until bytes arrive, and publishes the reader's position itself).
///
/// Use it when you run symphonia yourself; [`Decoder`](crate::Decoder) uses it too.
///
/// ```
/// # use kithara_file::{File, FileConfig, FileSrc};
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
/// # let stream = rt.block_on(Stream::<File>::new(FileConfig::new(FileSrc::Remote(url)).downloader(dl)))?;
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
}

/// Where the reader is and how long the stream is, as of the last read or seek; shared with the
/// decoder so it can place chunks and tell a truncated file from a malformed one.
#[derive(Debug)]
pub(crate) struct Progress {
    pos: AtomicU64,
    /// `u64::MAX` while unknown.
    len: AtomicU64,
}

impl Progress {
    /// The stream position after the last read or seek.
    pub(crate) fn pos(&self) -> u64 {
        self.pos.load(Ordering::Relaxed)
    }

    /// Whether the last read reached the stream's known end.
    pub(crate) fn at_end(&self) -> bool {
        let len = self.len.load(Ordering::Relaxed);
        len != u64::MAX && self.pos() >= len
    }

    fn update<T: StreamType>(&self, s: &Stream<T>) {
        self.pos.store(s.position(), Ordering::Relaxed);
        self.len
            .store(s.len().unwrap_or(u64::MAX), Ordering::Relaxed);
    }
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
    /// Wraps `stream`, with its length and seekability visible.
    pub fn new(stream: Stream<T>) -> Self {
        let (s, gate) = Self::hidden(stream);
        gate.reveal();
        s
    }

    /// Wraps `stream` with its length and seekability hidden until the returned gate reveals them.
    pub fn hidden(stream: Stream<T>) -> (Self, LayoutGate) {
        Self::from_shared(Arc::new(Mutex::new(stream)))
    }

    pub(crate) fn from_shared(stream: SharedStream<T>) -> (Self, LayoutGate) {
        let progress = Arc::new(Progress {
            pos: AtomicU64::new(0),
            len: AtomicU64::new(u64::MAX),
        });
        progress.update(&lock(&stream));
        let hidden = Arc::new(AtomicBool::new(true));
        let s = Self {
            stream,
            hidden: Arc::clone(&hidden),
            progress,
        };
        (s, LayoutGate(hidden))
    }

    /// The reader's progress, readable from another owner.
    pub(crate) fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }
}

impl<T: StreamType> Read for StreamMediaSource<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = lock(&self.stream);
        let n = s.read(buf)?;
        self.progress.update(&s);
        Ok(n)
    }
}

impl<T: StreamType> Seek for StreamMediaSource<T> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let mut s = lock(&self.stream);
        let pos = s.seek(to)?;
        self.progress.update(&s);
        Ok(pos)
    }
}

impl<T: StreamType> MediaSource for StreamMediaSource<T> {
    fn is_seekable(&self) -> bool {
        !self.hidden.load(Ordering::Acquire) && lock(&self.stream).source().is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        if self.hidden.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.stream).len()
    }
}
