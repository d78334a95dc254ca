//! [`Stream<T>`]: the `Read + Seek` that decoders see, for any protocol `T: StreamType`.
//!
//! # Where it may be called
//! `Read` and `Seek` block the calling thread until bytes arrive (bounded by the source's wait
//! budget). Call them from a thread that may block: a decoder thread, `std::thread::spawn` or
//! `tokio::task::spawn_blocking`, never from inside an async task, where blocking would stall the
//! runtime that downloads the very bytes being waited for. A read that would have to wait there
//! fails at once with [`Error::BlockingOnRuntime`] instead of stalling; a read of bytes that are
//! present succeeds anywhere.

use std::{
    future::Future,
    io::{self, Read, Seek, SeekFrom},
    sync::Mutex,
};

use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{
    boundary::{Boundary, TimeAnchor},
    error::{Error, Result},
    events::EventReceiver,
    hooks::SharedHooks,
    media::MediaInfo,
    source::{Source, WaitOutcome},
    timeline::Timeline,
};

/// A protocol that can be opened as a [`Stream`]: progressive files, HLS, …
pub trait StreamType: Sized + Send + 'static {
    /// What the caller supplies to open a stream.
    type Config: Send + 'static;
    /// The synchronous source the stream reads through.
    type Source: Source;
    /// Events the protocol reports to the application (progress, errors, end of stream).
    type Events: Clone + Send + std::fmt::Debug + 'static;

    /// Opens a stream: registers the protocol's peer with the downloader and builds its source.
    fn open(config: Self::Config) -> impl Future<Output = Result<StreamParts<Self>>> + Send;
}

/// What [`StreamType::open`] hands to [`Stream`].
#[non_exhaustive]
pub struct StreamParts<T: StreamType> {
    /// The source to read through; its [`Timeline`] is shared with the peer.
    pub source: T::Source,
    /// Sender of the protocol's events; the stream hands out receivers.
    pub events: broadcast::Sender<T::Events>,
    /// The stream's cancellation token: cancelled when the stream is dropped.
    pub cancel: CancellationToken,
    /// A receiver subscribed before the first event of the open, handed out by the first
    /// [`Stream::events`] call (see [`Opening`](crate::Opening)).
    pub open_events: Option<broadcast::Receiver<T::Events>>,
}

impl<T: StreamType> StreamParts<T> {
    /// Bundles the parts of a newly opened stream.
    pub fn new(
        source: T::Source,
        events: broadcast::Sender<T::Events>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            source,
            events,
            cancel,
            open_events: None,
        }
    }

    /// Keeps `rx`, subscribed before the open sent anything, for the first [`Stream::events`] call.
    #[must_use]
    pub fn with_open_events(mut self, rx: broadcast::Receiver<T::Events>) -> Self {
        self.open_events = Some(rx);
        self
    }
}

/// A blocking `Read + Seek` over a protocol's [`Source`].
///
/// `Read` blocks until bytes arrive and returns `Ok(0)` only at a proven end of stream. It never
/// returns `WouldBlock` or `Interrupted`; failures become `io::Error`s whose payload is the typed
/// [`Error`] (`err.get_ref().and_then(|e| e.downcast_ref::<kithara_stream::Error>())`). Seeking
/// follows `std` semantics: a position past the end is allowed and reads there return `Ok(0)`;
/// `SeekFrom::End` needs a known length. Dropping the stream cancels its downloads.
///
/// The position lives in the source's [`Timeline`] (its one owner), which publishes every read
/// and seek to the peer.
pub struct Stream<T: StreamType> {
    source: T::Source,
    events: broadcast::Sender<T::Events>,
    open_events: Mutex<Option<broadcast::Receiver<T::Events>>>,
    cancel: CancellationToken,
    /// Where the reader last started over: every boundary at or before it is behind the reader,
    /// and [`Stream::read_fenced`] stops at the first one after it.
    window_start: u64,
    _guard: DropGuard,
}

/// What one [`Stream::read_fenced`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fenced {
    /// This many bytes (at least one) were read; none lies beyond a boundary.
    Bytes(usize),
    /// The read position is at (or past) this boundary, which lies after the window's start:
    /// nothing was read. The reader ends its window here; [`Stream::start_window`] at the
    /// boundary's position crosses it.
    Boundary(Boundary),
    /// The proven end of the stream.
    End,
}

impl<T: StreamType> std::fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("pos", &self.position())
            .field("len", &self.source.len())
            .finish_non_exhaustive()
    }
}

impl<T: StreamType> Stream<T> {
    /// Opens a stream from the protocol's config. For network protocols this resolves once the
    /// first response headers arrived, so an unreachable or missing resource fails here.
    pub async fn new(config: T::Config) -> Result<Self> {
        Ok(Self::from_parts(T::open(config).await?))
    }

    /// Builds a stream from already opened parts.
    pub fn from_parts(parts: StreamParts<T>) -> Self {
        let StreamParts {
            source,
            events,
            cancel,
            open_events,
        } = parts;
        Self {
            source,
            events,
            open_events: Mutex::new(open_events),
            window_start: 0,
            _guard: cancel.clone().drop_guard(),
            cancel,
        }
    }

    /// A receiver of the protocol's events. The first call's receiver also gets every event sent
    /// while the stream was opening (it was subscribed before the first one); later calls' get the
    /// events from then on. A receiver that falls behind is told how many events it missed.
    pub fn events(&self) -> EventReceiver<T::Events> {
        let first = self
            .open_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        EventReceiver::new(first.unwrap_or_else(|| self.events.subscribe()))
    }

    /// The underlying source.
    pub fn source(&self) -> &T::Source {
        &self.source
    }

    /// The reader-side hooks shared with the peer (the timeline's).
    pub fn hooks(&self) -> &SharedHooks {
        self.source.timeline().hooks()
    }

    /// The stream's position bookkeeping.
    pub fn timeline(&self) -> &Timeline {
        self.source.timeline()
    }

    /// Total length in bytes, once known.
    pub fn len(&self) -> Option<u64> {
        self.source.len()
    }

    /// Whether the length is known to be zero.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// Body bytes received over the network for this stream so far (see
    /// [`Source::bytes_fetched`]); [`len`](Self::len) and storage say what is present.
    pub fn bytes_fetched(&self) -> u64 {
        self.source.bytes_fetched()
    }

    /// Copies the bytes present from `offset` on into `buf` ([`Source::read_at`]; 0 when the
    /// byte at `offset` is not): never waits, requests nothing, leaves the reader where it is.
    ///
    /// # Errors
    /// What the source's read fails with (a disk backend's I/O error).
    pub fn read_present(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.source.read_at(offset, buf)
    }

    /// Format hints known so far.
    pub fn media_info(&self) -> Option<MediaInfo> {
        self.source.media_info()
    }

    /// The stream's cancellation token (cancelled on drop; cancel it to abort a blocked read).
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Current read position.
    pub fn position(&self) -> u64 {
        self.source.timeline().position()
    }

    /// Media time at the read position, when the source maps bytes to time.
    pub fn time_position(&self) -> Option<std::time::Duration> {
        self.source.timeline().time_at(self.position())
    }

    /// The first boundary at or after the read position known so far: where a decoder will have
    /// to start over (new init segment, variant switch, discontinuity, seek jump). Reads stop
    /// short of it.
    pub fn next_boundary(&self) -> Option<Boundary> {
        self.source.next_boundary(self.position())
    }

    /// Starts a new window at the read position: the reader starts over there (a new format
    /// reader), so every boundary at or before the position is behind it, and
    /// [`Stream::read_fenced`] stops at the first boundary after it. Returns the boundary at the
    /// position, if there is one (the one the reader crosses). [`Stream::seek_time`] starts a
    /// window at its anchor by itself; plain [`Read`] starts one at every boundary it meets.
    pub fn start_window(&mut self) -> Option<Boundary> {
        let pos = self.position();
        self.window_start = pos;
        self.source.next_boundary(pos).filter(|b| b.pos == pos)
    }

    /// The boundary that ends the current window (the first one after where it started), as far
    /// as the source has laid its bytes out; `None` while no boundary is known after it.
    pub fn window_end(&self) -> Option<Boundary> {
        self.source
            .next_boundary(self.window_start.saturating_add(1))
    }

    /// Reads like [`Read::read`] but never past the current window: at a boundary after the
    /// window's start (see [`Stream::start_window`]) it reads nothing and returns
    /// [`Fenced::Boundary`], also when that boundary was laid out at the read position while the
    /// read waited there. A decoder reads through this so one format reader never sees the bytes
    /// of the next variant, discontinuity or run; plain `Read` crosses such a boundary instead.
    ///
    /// # Errors
    /// As [`Read::read`], typed.
    pub fn read_fenced(&mut self, buf: &mut [u8]) -> Result<Fenced> {
        if buf.is_empty() {
            return Ok(Fenced::Bytes(0));
        }
        #[allow(clippy::let_unit_value)]
        let _perf = crate::perf::span("stream.read");
        let start = self.position();
        if let Some(b) = self.fence_at(start) {
            return Ok(Fenced::Boundary(b));
        }
        // Bytes already present need no wait (and no clock).
        let room = self.room(start, buf.len());
        let mut n = self.source.read_at(start, &mut buf[..room])?;
        if n == 0 {
            match self.wait_and_read(start, buf)? {
                Fenced::Bytes(got) => n = got,
                other => return Ok(other),
            }
        }
        self.source.timeline().advance(start, n as u64);
        Ok(Fenced::Bytes(n))
    }

    /// The boundary after the window's start at or before `pos`: a fenced read there stops.
    fn fence_at(&self, pos: u64) -> Option<Boundary> {
        if pos <= self.window_start {
            return None;
        }
        self.window_end().filter(|b| b.pos <= pos)
    }

    /// Seeks to media time `t`: the source maps it to a byte (for HLS the start of the segment
    /// holding `t`) and the reader moves there, published to the peer exactly like a byte seek.
    /// Returns where it landed. Blocks only as long as the source needs to map the time (HLS may
    /// wait for a playlist).
    ///
    /// # Errors
    /// [`Error::TimeSeekUnsupported`] when the source cannot map time; the source's own errors.
    pub fn seek_time(&mut self, t: std::time::Duration) -> Result<TimeAnchor> {
        let anchor = self.source.seek_time(t)?;
        let epoch = self.source.timeline().seek(anchor.pos);
        self.window_start = anchor.pos;
        tracing::debug!(pos = anchor.pos, time = ?anchor.time, epoch, "reader seek by time");
        Ok(anchor)
    }

    /// A plain read: crosses a boundary at the read position (starting a window there) and
    /// stops short of the next one.
    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.read_fenced(buf)? {
                Fenced::Bytes(n) => return Ok(n),
                Fenced::End => return Ok(0),
                Fenced::Boundary(_) => {
                    self.start_window();
                }
            }
        }
    }

    /// How many of `want` bytes from `start` one read may return: one read never crosses a
    /// boundary, so a decoder stops there and starts over.
    fn room(&self, start: u64, want: usize) -> usize {
        match self.source.next_boundary(start.saturating_add(1)) {
            Some(b) => usize::try_from(b.pos - start).map_or(want, |r| r.min(want)),
            None => want,
        }
    }

    /// Waits for the byte at `start`, then reads, unless a boundary was laid out at `start`
    /// meanwhile.
    fn wait_and_read(&mut self, start: u64, buf: &mut [u8]) -> Result<Fenced> {
        if crate::runtime_check::on_runtime_thread() {
            return Err(Error::BlockingOnRuntime {
                range: start..start.saturating_add(buf.len() as u64),
            });
        }
        let began = std::time::Instant::now();
        // A Ready outcome whose bytes vanish is impossible with committed storage; bound the retries anyway.
        for _ in 0..3 {
            crate::probe::wait_start(start, buf.len() as u64);
            let outcome = self.source.wait_range(start..start.saturating_add(1));
            crate::probe::wait_done(start, probe_code(&outcome));
            if outcome? == WaitOutcome::Eof {
                return Ok(Fenced::End);
            }
            // Boundaries may have been laid out during the wait: look again before reading.
            if let Some(b) = self.fence_at(start) {
                return Ok(Fenced::Boundary(b));
            }
            let room = self.room(start, buf.len());
            let n = self.source.read_at(start, &mut buf[..room])?;
            if n > 0 {
                return Ok(Fenced::Bytes(n));
            }
        }
        Err(Error::WaitTimeout {
            range: start..start.saturating_add(buf.len() as u64),
            waited: began.elapsed(),
        })
    }

    fn seek_inner(&mut self, to: SeekFrom) -> Result<u64> {
        let pos = self.position();
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => pos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let len = self.source.len().ok_or(Error::InvalidSeek {
                    reason:
                        "SeekFrom::End needs a known length and this stream's length is unknown",
                })?;
                len.checked_add_signed(d)
            }
        };
        let target = target.ok_or(Error::InvalidSeek {
            reason: "target before byte 0 or overflowing",
        })?;
        if target != pos {
            self.source.check_seek(target)?;
            let epoch = self.source.timeline().seek(target);
            tracing::debug!(pos = target, epoch, "reader seek");
        }
        Ok(target)
    }
}

/// Outcome code reported by the `wait__done` probe: 0 ready, 1 end, 2 timed out, 3 other error.
fn probe_code(outcome: &Result<WaitOutcome>) -> u8 {
    match outcome {
        Ok(WaitOutcome::Ready) => 0,
        Ok(WaitOutcome::Eof) => 1,
        Err(e) if e.is_timeout() => 2,
        _ => 3,
    }
}

impl<T: StreamType> Read for Stream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf).map_err(Error::into_io)
    }
}

impl<T: StreamType> Seek for Stream<T> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.seek_inner(pos).map_err(Error::into_io)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position())
    }
}
