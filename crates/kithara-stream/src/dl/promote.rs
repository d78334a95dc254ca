//! [`PriorityHandle`]: a command's priority, which its peer may raise after issuing it.
//!
//! A peer issues each command at the priority its reader needs at that moment. The reader may
//! later block on bytes that a queued command will bring: it seeks back into a gap being filled
//! by a prefetch, or reads on into a range fetched ahead at normal priority. Raising the command
//! through its handle moves it up in the downloader's queue at once, keeping its place among the
//! commands of the new priority by when it was queued. Without that, a prefetch that a reader
//! waits for would start only once no urgent or normal command is waiting on any peer, which on a
//! busy downloader may be never. A priority is never lowered.

use std::sync::{
    atomic::{AtomicU8, Ordering},
    Arc,
};

use tokio::sync::Notify;

use super::fetch::Priority;

/// The priority of one [`FetchCmd`](super::FetchCmd), shared between the command and its peer
/// ([`FetchCmd::priority_handle`](super::FetchCmd::priority_handle)). Cheap to clone.
#[derive(Clone)]
pub struct PriorityHandle(Arc<Inner>);

struct Inner {
    level: AtomicU8,
    raised: Notify,
}

impl std::fmt::Debug for PriorityHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PriorityHandle").field(&self.get()).finish()
    }
}

fn level(p: Priority) -> u8 {
    match p {
        Priority::Prefetch => 0,
        Priority::Normal => 1,
        Priority::Urgent => 2,
    }
}

fn priority(level: u8) -> Priority {
    match level {
        0 => Priority::Prefetch,
        1 => Priority::Normal,
        _ => Priority::Urgent,
    }
}

impl PriorityHandle {
    pub(crate) fn new(p: Priority) -> Self {
        Self(Arc::new(Inner {
            level: AtomicU8::new(level(p)),
            raised: Notify::new(),
        }))
    }

    /// The command's priority now.
    pub fn get(&self) -> Priority {
        priority(self.0.level.load(Ordering::Acquire))
    }

    /// Raises the priority to `to` if it is lower; returns whether it changed. A command waiting
    /// for a slot moves up the queue at once; a running one is unaffected (it has its slot).
    pub fn raise(&self, to: Priority) -> bool {
        let to = level(to);
        let before = self.0.level.fetch_max(to, Ordering::AcqRel);
        if before < to {
            self.0.raised.notify_waiters();
            true
        } else {
            false
        }
    }

    /// Resolves after the next [`raise`](Self::raise) that changes the priority. Enable the
    /// returned future (or poll it once) before reading [`get`](Self::get) to miss no raise.
    pub(crate) fn raised(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.raised.notified()
    }
}
