//! [`Downloader`]: the shared HTTP pool that pulls commands from every registered peer.
//!
//! One driver task per peer polls `Peer::poll_next` whenever the peer wakes it, queues the commands
//! it yields, and runs each in its own task once the peer is under its own in-flight limit (urgent
//! commands are not held back by it) and a slot of the global pool is free. Queued commands start
//! in priority order, within a peer and across peers ([`slots`](super::slots)). Each command's
//! outcome is reported exactly once through its `on_complete`.

use std::{
    future::poll_fn,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::Poll,
};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    attempt,
    config::DownloaderConfig,
    counts::{Counts, DownloaderStats},
    fetch::Priority,
    peer::{Peer, PeerHandle, PeerState, ThroughputSample},
    slots::{SlotRequest, Slots},
    FetchCmd, FetchOutcome,
};
use crate::error::Error;

/// The shared HTTP pool. Cheap to clone: every clone drives the same pool.
///
/// Own one per application (the player or queue owns it) and register every stream's peer with it,
/// so all streams share one connection pool and one in-flight limit. Stream configs take it by
/// clone (`FileConfig::remote(url, dl.clone())`); none of them builds one on its own.
#[derive(Clone, Debug)]
pub struct Downloader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: reqwest::Client,
    pub(crate) config: DownloaderConfig,
    global: Arc<Slots>,
    counts: Arc<Counts>,
    next_peer: AtomicU64,
    runtime: Option<tokio::runtime::Handle>,
}

impl Downloader {
    /// Builds the downloader and its HTTP client (rustls, connection pool, redirects, timeouts).
    ///
    /// # Errors
    /// [`Error::Client`] if the HTTP client cannot be built (TLS set-up, an invalid
    /// `user_agent`): the failure shows here, not at the first request.
    pub fn new(config: DownloaderConfig) -> Result<Self, Error> {
        let client = match config.client.clone() {
            Some(c) => c,
            None => {
                let builder = reqwest::Client::builder();
                let builder = if config.system_proxy {
                    builder
                } else {
                    builder.no_proxy()
                };
                builder
                    .connect_timeout(config.connect_timeout)
                    .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
                    .pool_max_idle_per_host(config.max_in_flight)
                    .user_agent(config.user_agent.clone())
                    .tcp_nodelay(true)
                    .build()
                    .map_err(|e| Error::Client(Arc::new(e.without_url())))?
            }
        };
        let runtime = config
            .runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        let global = Slots::new(config.max_in_flight);
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                config,
                global,
                counts: Arc::default(),
                next_peer: AtomicU64::new(1),
                runtime,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DownloaderConfig {
        &self.inner.config
    }

    /// The root cancellation token; cancelling it stops every peer.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.inner.config.cancel
    }

    /// A new child of the root token, for a peer.
    pub fn child_token(&self) -> CancellationToken {
        self.inner.config.cancel.child_token()
    }

    /// Fetches running now across all peers.
    pub fn in_flight(&self) -> usize {
        self.inner.global.in_use()
    }

    /// What runs now across all peers, and how many commands were issued and reported so far.
    pub fn stats(&self) -> DownloaderStats {
        let mut stats = self.inner.counts.snapshot();
        (
            stats.waiting_urgent,
            stats.waiting_normal,
            stats.waiting_prefetch,
        ) = self.inner.global.waiting();
        stats
    }

    /// Peers whose driver task is running ([`DownloaderStats::peers_alive`]): back to its earlier
    /// value once every stream registered since is dropped (a check that nothing leaked).
    pub fn peers_alive(&self) -> usize {
        self.stats().peers_alive
    }

    /// Fetch tasks started and not yet ended, across all peers
    /// ([`DownloaderStats::fetch_tasks`]): zero once every command has reported its outcome and
    /// its task has ended.
    pub fn commands_in_flight(&self) -> usize {
        self.stats().fetch_tasks
    }

    /// Waits until nothing runs ([`DownloaderStats::is_idle`]): every peer's driver ended, every
    /// fetch task ended, every issued command reported its outcome. Does not end while a stream
    /// is open; wrap it in a timeout.
    pub async fn idle(&self) {
        self.inner.counts.idle().await;
    }

    /// Attaches a peer: a driver task starts polling it. Must be called within a tokio runtime,
    /// unless [`DownloaderConfig::runtime`] is set; without one the peer is cancelled at once.
    pub fn register<P: Peer>(&self, peer: P) -> PeerHandle {
        let id = self.inner.next_peer.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(PeerState::new());
        let cancel = peer.cancel_token();
        let handle = PeerHandle {
            id,
            state: state.clone(),
            cancel: cancel.clone(),
        };
        let runtime = self
            .inner
            .runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        let Some(runtime) = runtime else {
            tracing::error!(
                peer = id,
                "no tokio runtime to run the peer on; cancelling it"
            );
            cancel.cancel();
            state.driver_ended();
            return handle;
        };
        let span = tracing::info_span!("peer", id, url = %peer.label());
        self.inner.counts.peer_started();
        runtime.spawn(
            drive(self.inner.clone(), peer, state, cancel, runtime.clone()).instrument(span),
        );
        handle
    }
}

/// Takes the first queued command of the highest priority.
fn pop_next(queue: &mut Vec<FetchCmd>) -> Option<FetchCmd> {
    let top = queue.iter().map(FetchCmd::priority).max()?;
    let i = queue.iter().position(|c| c.priority() == top)?;
    Some(queue.remove(i))
}

async fn drive<P: Peer>(
    inner: Arc<Inner>,
    mut peer: P,
    state: Arc<PeerState>,
    cancel: CancellationToken,
    runtime: tokio::runtime::Handle,
) {
    let per_peer = Arc::new(Semaphore::new(inner.config.max_in_flight_per_peer.max(1)));
    let (samples_tx, mut samples) = mpsc::unbounded_channel::<ThroughputSample>();
    let root = inner.config.cancel.clone();
    let mut queue: Vec<FetchCmd> = Vec::new();
    let mut peer_done = false;
    loop {
        // Commands cancelled while queued are dropped unrun (their `Drop` reports `Cancelled`).
        queue.retain(|c| !c.cancel_token().is_cancelled());
        state.queued.store(queue.len(), Ordering::Release);
        if peer_done && queue.is_empty() {
            tracing::debug!("peer finished");
            break;
        }
        let spawn = |cmd: FetchCmd, permit: Option<OwnedSemaphorePermit>| {
            state.fetch_started();
            inner.counts.task_started();
            // The place in the global queue is taken here, in the order commands start.
            let slot = inner.global.request(cmd.priority());
            let task = run(
                inner.clone(),
                cmd,
                slot,
                permit,
                state.clone(),
                cancel.clone(),
                samples_tx.clone(),
            );
            runtime.spawn(task.in_current_span());
        };
        // What a blocked reader waits for is not held back by the peer's own limit.
        if let Some(i) = queue.iter().position(|c| c.priority() == Priority::Urgent) {
            let cmd = queue.remove(i);
            state.queued.store(queue.len(), Ordering::Release);
            spawn(cmd, None);
            continue;
        }
        let next = poll_fn(|cx| {
            let before = state.wakes.load(Ordering::Acquire);
            let waker = futures::task::waker(Arc::new(CountingWaker {
                state: state.clone(),
                inner: cx.waker().clone(),
            }));
            let mut counted = std::task::Context::from_waker(&waker);
            while let Poll::Ready(Some(s)) = samples.poll_recv(&mut counted) {
                peer.on_throughput(s);
            }
            let polled = peer.poll_next(&mut counted);
            let parked = if polled.is_pending() && queue_empty(&state) {
                before
            } else {
                u64::MAX
            };
            state.parked_at.store(parked, Ordering::Release);
            state.changed.notify_waiters();
            polled
        });
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = root.cancelled() => break,
            p = per_peer.clone().acquire_owned(), if !queue.is_empty() => {
                let (Ok(permit), Some(cmd)) = (p, pop_next(&mut queue)) else { break };
                state.queued.store(queue.len(), Ordering::Release);
                spawn(cmd, Some(permit));
            }
            batch = next, if !peer_done => match batch {
                None => peer_done = true,
                Some(batch) => {
                    for mut cmd in batch {
                        state.issued.fetch_add(1, Ordering::AcqRel);
                        inner.counts.issued();
                        let counted = state.clone();
                        let total = inner.counts.clone();
                        cmd.observe_completion(move |_| {
                            counted.reported.fetch_add(1, Ordering::AcqRel);
                            counted.changed.notify_waiters();
                            total.reported();
                        });
                        queue.push(cmd);
                    }
                    state.queued.store(queue.len(), Ordering::Release);
                }
            },
        }
    }
    // Queued commands report `Cancelled` from their `Drop`.
    drop(queue);
    state.driver_ended();
    inner.counts.peer_ended();
}

fn queue_empty(state: &PeerState) -> bool {
    state.queued.load(Ordering::Acquire) == 0
}

/// Forwards a wake to the driver task, counting it so [`PeerHandle::settled`] can tell that the
/// peer has been woken since it last asked for nothing.
struct CountingWaker {
    state: Arc<PeerState>,
    inner: std::task::Waker,
}

impl futures::task::ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.state.wakes.fetch_add(1, Ordering::AcqRel);
        arc_self.state.changed.notify_waiters();
        arc_self.inner.wake_by_ref();
    }
}

async fn run(
    inner: Arc<Inner>,
    mut cmd: FetchCmd,
    slot: SlotRequest,
    _peer_permit: Option<OwnedSemaphorePermit>,
    state: Arc<PeerState>,
    peer_cancel: CancellationToken,
    samples: mpsc::UnboundedSender<ThroughputSample>,
) {
    let span = tracing::debug_span!(
        "fetch",
        range = ?cmd.range(),
        method = ?cmd.method(),
        priority = ?cmd.priority(),
        attempt = tracing::field::Empty
    );
    let priority = cmd.priority_handle();
    let outcome = async {
        let cmd_cancel = cmd.cancel_token().clone();
        let root = inner.config.cancel.clone();
        // The command's own token, its peer's, or the downloader's root: whichever goes first.
        let cancelled = async {
            tokio::select! {
                _ = cmd_cancel.cancelled() => {},
                _ = peer_cancel.cancelled() => {},
                _ = root.cancelled() => {},
            }
        };
        tokio::pin!(cancelled);
        let _slot = tokio::select! {
            biased;
            _ = &mut cancelled => return FetchOutcome::Cancelled,
            s = slot.wait(&priority) => s,
        };
        let outcome = attempt::execute(&inner, &mut cmd, &state, &samples, cancelled).await;
        if let FetchOutcome::Completed { bytes, .. } = &outcome {
            crate::probe::fetch_done(*bytes);
        }
        outcome
    }
    .instrument(span)
    .await;
    cmd.complete(outcome);
    drop(cmd);
    state.fetch_ended();
    inner.counts.task_ended();
}
