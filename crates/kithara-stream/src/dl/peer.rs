//! The pull-driven [`Peer`] contract and the [`PeerHandle`] returned by registration.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::FetchCmd;

/// What a command fetched, as its throughput samples report it (adaptive peers feed their
/// bandwidth estimate from media samples only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FetchPurpose {
    /// Media bytes: a segment, a file's body.
    #[default]
    Media,
    /// An index of the media: a playlist or manifest.
    Index,
    /// A decryption key.
    Key,
    /// Anything else.
    Other,
}

/// Throughput of one attempt, reported to its peer (input to bitrate decisions).
///
/// Timed from the request being sent to the last byte of the attempt (or to where it stopped),
/// with the time to the first response byte. A successful attempt reports one sample; an attempt
/// that failed or was cancelled after delivering a useful amount (64 KiB or more) reports one
/// marked incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThroughputSample {
    /// Body bytes delivered by the attempt.
    pub bytes: u64,
    /// Time from the request being sent to its last byte.
    pub elapsed: Duration,
    /// Time from the request being sent to the response headers, if known.
    pub ttfb: Option<Duration>,
    /// What was fetched.
    pub purpose: FetchPurpose,
    /// Whether the attempt completed (false for a partial transfer cut short).
    pub complete: bool,
}

impl ThroughputSample {
    /// A complete sample of media bytes with no time-to-first-byte, for tests and simulations.
    pub fn new(bytes: u64, elapsed: Duration) -> Self {
        Self {
            bytes,
            elapsed,
            ttfb: None,
            purpose: FetchPurpose::Media,
            complete: true,
        }
    }

    /// With the time to the first response byte.
    #[must_use]
    pub fn with_ttfb(mut self, ttfb: Duration) -> Self {
        self.ttfb = Some(ttfb);
        self
    }

    /// With what was fetched.
    #[must_use]
    pub fn with_purpose(mut self, purpose: FetchPurpose) -> Self {
        self.purpose = purpose;
        self
    }

    /// Marked as a transfer that was cut short.
    #[must_use]
    pub fn partial(mut self) -> Self {
        self.complete = false;
        self
    }

    /// Bytes per second, if any time elapsed.
    pub fn bytes_per_sec(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (secs > 0.0).then(|| self.bytes as f64 / secs)
    }
}

/// A per-resource download policy (one per stream: `FilePeer`, `HlsPeer`) driven by the [`Downloader`](super::Downloader).
///
/// The downloader polls [`poll_next`](Peer::poll_next) whenever the peer wakes it; the peer answers
/// with the commands it needs next, `Pending` when it needs nothing right now (and must then arrange
/// for `cx`'s waker to be woken when that changes: a reader seek, a completed command), or
/// `Ready(None)` when it is done for good. Yielded commands are queued and run in order as the
/// peer's in-flight limit (`max_in_flight_per_peer`) and the global pool allow, so a peer should
/// yield only what it needs now and track what it has in flight. Because the peer is polled even
/// while its commands run, it can react to a seek by cancelling a running command's token.
#[cfg_attr(feature = "mock", unimock::unimock(api = PeerMock))]
pub trait Peer: Send + 'static {
    /// The next commands to run, pulled when there is capacity for at least one.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>>;

    /// The peer's cancellation token; its commands' tokens must be children of it. Cancelling it
    /// stops the peer and every fetch it started.
    fn cancel_token(&self) -> CancellationToken;

    /// A short label for logs (usually the URL without its query).
    fn label(&self) -> String {
        String::from("peer")
    }

    /// Throughput of each completed fetch; adaptive peers feed their bitrate estimate from it.
    fn on_throughput(&mut self, sample: ThroughputSample) {
        let _ = sample;
    }
}

/// Live counters of one registered peer.
#[derive(Debug, Default)]
pub(crate) struct PeerState {
    pub(crate) active: AtomicUsize,
    /// Commands yielded and waiting to start.
    pub(crate) queued: AtomicUsize,
    pub(crate) bytes: AtomicU64,
    pub(crate) issued: AtomicU64,
    pub(crate) reported: AtomicU64,
    pub(crate) finished: AtomicBool,
    pub(crate) changed: Notify,
    /// Times the driver task was woken (by the peer's own wakers).
    pub(crate) wakes: AtomicU64,
    /// The wake count seen before the last `poll_next` that left the peer with nothing to run;
    /// `u64::MAX` while it has work queued or running.
    pub(crate) parked_at: AtomicU64,
}

impl PeerState {
    pub(crate) fn new() -> Self {
        Self {
            parked_at: AtomicU64::new(u64::MAX),
            ..Self::default()
        }
    }

    /// Whether the peer has nothing queued or running, and nothing woke it since it said so.
    pub(crate) fn is_settled(&self) -> bool {
        self.active.load(Ordering::Acquire) == 0
            && self.queued.load(Ordering::Acquire) == 0
            && self.parked_at.load(Ordering::Acquire) == self.wakes.load(Ordering::Acquire)
    }

    pub(crate) fn fetch_started(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn fetch_ended(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn driver_ended(&self) {
        self.finished.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }
}

/// Handle to a registered peer: cancel it and inspect its state. Cloning gives another handle.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    pub(crate) id: u64,
    pub(crate) state: Arc<PeerState>,
    pub(crate) cancel: CancellationToken,
}

impl PeerHandle {
    /// The peer's id within its downloader (appears in log spans).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Cancels the peer and all its fetches; each command's `on_complete` gets `Cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether the peer was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Fetch commands running now (started and not yet completed).
    pub fn active_commands(&self) -> usize {
        self.state.active.load(Ordering::Acquire)
    }

    /// Body bytes delivered to this peer's writers so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.state.bytes.load(Ordering::Acquire)
    }

    /// Commands the peer has yielded so far.
    pub fn commands_issued(&self) -> u64 {
        self.state.issued.load(Ordering::Acquire)
    }

    /// Calls of those commands' `on_complete` so far (equal to [`commands_issued`](Self::commands_issued)
    /// once the peer is idle: each command reports exactly once, whether it ran, failed, or was
    /// cancelled or dropped before it started).
    pub fn completions_reported(&self) -> u64 {
        self.state.reported.load(Ordering::Acquire)
    }

    /// Whether the downloader stopped polling the peer (it finished or was cancelled).
    pub fn is_finished(&self) -> bool {
        self.state.finished.load(Ordering::Acquire)
    }

    /// Waits until the peer is settled: nothing queued or running, its last `poll_next` asked for
    /// nothing, and nothing (a reader's read or seek, a completion) has woken it since. A peer
    /// that stopped for good is settled too. Tests use this to check that nothing more is
    /// requested; a player can use it to tell that a stream has everything it wants for now.
    pub async fn settled(&self) {
        loop {
            let notified = self.state.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.state.is_settled() || (self.is_finished() && self.active_commands() == 0) {
                return;
            }
            notified.await;
        }
    }

    /// Waits until no command is running and the downloader stopped polling the peer.
    pub async fn idle(&self) {
        loop {
            let notified = self.state.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_finished() && self.active_commands() == 0 {
                return;
            }
            notified.await;
        }
    }
}
