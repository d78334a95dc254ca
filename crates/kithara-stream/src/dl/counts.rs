//! [`DownloaderStats`]: what the whole [`Downloader`](super::Downloader) has running, and the
//! counters behind it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A snapshot of a [`Downloader`](super::Downloader)'s work across all its peers
/// ([`Downloader::stats`](super::Downloader::stats)).
///
/// Once every stream is dropped and the downloader has wound down
/// ([`Downloader::idle`](super::Downloader::idle)), `peers_alive` and `fetch_tasks` are 0 and
/// `completions_reported == commands_issued`: each command's `on_complete` ran exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DownloaderStats {
    /// Registered peers whose driver task still runs (it ends when the peer finishes or is
    /// cancelled).
    pub peers_alive: usize,
    /// Fetch tasks spawned and not yet ended (waiting for a slot or running).
    pub fetch_tasks: usize,
    /// Commands every peer has yielded so far.
    pub commands_issued: u64,
    /// Calls of those commands' `on_complete` so far.
    pub completions_reported: u64,
    /// Commands waiting for a slot at [`Priority::Urgent`](super::Priority::Urgent) now.
    pub waiting_urgent: usize,
    /// Commands waiting for a slot at [`Priority::Normal`](super::Priority::Normal) now.
    pub waiting_normal: usize,
    /// Commands waiting for a slot at [`Priority::Prefetch`](super::Priority::Prefetch) now.
    pub waiting_prefetch: usize,
}

impl DownloaderStats {
    /// Whether nothing runs: no peer driver, no fetch task, every issued command reported.
    pub fn is_idle(&self) -> bool {
        self.peers_alive == 0
            && self.fetch_tasks == 0
            && self.completions_reported == self.commands_issued
    }
}

/// The live counters of a downloader (one owner: the downloader's inner state).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    peers: AtomicUsize,
    tasks: AtomicUsize,
    issued: AtomicU64,
    reported: AtomicU64,
    changed: Notify,
}

impl Counts {
    pub(crate) fn snapshot(&self) -> DownloaderStats {
        DownloaderStats {
            peers_alive: self.peers.load(Ordering::Acquire),
            fetch_tasks: self.tasks.load(Ordering::Acquire),
            commands_issued: self.issued.load(Ordering::Acquire),
            completions_reported: self.reported.load(Ordering::Acquire),
            ..DownloaderStats::default()
        }
    }

    pub(crate) fn peer_started(&self) {
        self.peers.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn peer_ended(&self) {
        self.peers.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn task_started(&self) {
        self.tasks.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn task_ended(&self) {
        self.tasks.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn issued(&self) {
        self.issued.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn reported(&self) {
        self.reported.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Waits until [`DownloaderStats::is_idle`] holds.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.snapshot().is_idle() {
                return;
            }
            notified.await;
        }
    }
}
