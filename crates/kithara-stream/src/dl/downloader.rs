//! [`Downloader`]: the shared HTTP pool that pulls commands from every registered peer.
//!
//! One driver task per peer polls `Peer::poll_next` whenever the peer wakes it, queues the commands
//! it yields, and runs each in its own task once the peer is under its own in-flight limit and a
//! slot of the global pool is free. Each command's outcome is reported exactly once through its
//! `on_complete`.

use std::{
    collections::VecDeque,
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
    peer::{Peer, PeerHandle, PeerState, ThroughputSample},
    FetchCmd, FetchOutcome,
};
use crate::error::Error;

/// The shared HTTP pool. Cheap to clone: every clone drives the same pool.
///
/// Own one per application (the player or queue owns it) and register every stream's peer with it,
/// so all streams share one connection pool and one in-flight limit.
#[derive(Clone, Debug)]
pub struct Downloader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: Result<reqwest::Client, Error>,
    pub(crate) config: DownloaderConfig,
    global: Arc<Semaphore>,
    next_peer: AtomicU64,
    runtime: Option<tokio::runtime::Handle>,
}

impl Downloader {
    /// Builds the downloader and its HTTP client (rustls). If the client cannot be built, every
    /// command fails with [`Error::Client`] instead of panicking.
    pub fn new(config: DownloaderConfig) -> Self {
        let client = match config.client.clone() {
            Some(c) => Ok(c),
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
                    .map_err(|e| Error::Client(Arc::new(e)))
            }
        };
        if let Err(e) = &client {
            tracing::error!(error = %e, "HTTP client could not be built");
        }
        let runtime = config
            .runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        let global = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
        Self {
            inner: Arc::new(Inner {
                client,
                config,
                global,
                next_peer: AtomicU64::new(1),
                runtime,
            }),
        }
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
        self.inner.config.max_in_flight.max(1) - self.inner.global.available_permits()
    }

    /// Attaches a peer: a driver task starts polling it. Must be called within a tokio runtime,
    /// unless [`DownloaderConfig::runtime`] is set; without one the peer is cancelled at once.
    pub fn register<P: Peer>(&self, peer: P) -> PeerHandle {
        let id = self.inner.next_peer.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(PeerState::default());
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
        runtime.spawn(
            drive(self.inner.clone(), peer, state, cancel, runtime.clone()).instrument(span),
        );
        handle
    }
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
    let mut queue: VecDeque<FetchCmd> = VecDeque::new();
    let mut peer_done = false;
    loop {
        // Commands cancelled while queued are dropped unrun (their `Drop` reports `Cancelled`).
        queue.retain(|c| !c.cancel_token().is_cancelled());
        if peer_done && queue.is_empty() {
            tracing::debug!("peer finished");
            break;
        }
        let next = poll_fn(|cx| {
            while let Poll::Ready(Some(s)) = samples.poll_recv(cx) {
                peer.on_throughput(s);
            }
            peer.poll_next(cx)
        });
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = root.cancelled() => break,
            p = per_peer.clone().acquire_owned(), if !queue.is_empty() => {
                let (Ok(permit), Some(cmd)) = (p, queue.pop_front()) else { break };
                state.fetch_started();
                let task = run(inner.clone(), cmd, permit, state.clone(), cancel.clone(), samples_tx.clone());
                runtime.spawn(task.in_current_span());
            }
            batch = next, if !peer_done => match batch {
                None => peer_done = true,
                Some(batch) => {
                    for mut cmd in batch {
                        state.issued.fetch_add(1, Ordering::AcqRel);
                        let counted = state.clone();
                        cmd.observe_completion(move |_| {
                            counted.reported.fetch_add(1, Ordering::AcqRel);
                            counted.changed.notify_waiters();
                        });
                        queue.push_back(cmd);
                    }
                }
            },
        }
    }
    // Queued commands report `Cancelled` from their `Drop`.
    drop(queue);
    state.driver_ended();
}

async fn run(
    inner: Arc<Inner>,
    mut cmd: FetchCmd,
    _peer_permit: OwnedSemaphorePermit,
    state: Arc<PeerState>,
    peer_cancel: CancellationToken,
    samples: mpsc::UnboundedSender<ThroughputSample>,
) {
    let span = tracing::debug_span!(
        "fetch",
        range = ?cmd.range(),
        method = ?cmd.method(),
        attempt = tracing::field::Empty
    );
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
            s = inner.global.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => return FetchOutcome::Cancelled,
            },
        };
        let started = std::time::Instant::now();
        let outcome = attempt::execute(&inner, &mut cmd, &state, cancelled).await;
        if let FetchOutcome::Completed { bytes, .. } = &outcome {
            crate::probe::fetch_done(*bytes);
            let _ = samples.send(ThroughputSample {
                bytes: *bytes,
                elapsed: started.elapsed(),
            });
        }
        outcome
    }
    .instrument(span)
    .await;
    cmd.complete(outcome);
    drop(cmd);
    state.fetch_ended();
}
