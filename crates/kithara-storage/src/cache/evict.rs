//! Background eviction: a thread that runs [`gc`](super::AssetStore::gc)
//! down to the configured size whenever recorded bytes push the cache's
//! estimated size over the limit, so that no reader or writer ever waits
//! for deletions.
//!
//! Requests coalesce: however many arrive while a pass runs, one more pass
//! follows. [`EvictSignal::wait_idle`] lets a caller (a test, the CLI)
//! wait, with a deadline, until every request made so far was served.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::store::StoreShared;

#[derive(Debug, Default)]
struct EvictState {
    requested: u64,
    completed: u64,
    shutdown: bool,
}

/// Request counter and wake-up shared by the store, its assets and the
/// eviction thread.
#[derive(Debug, Default)]
pub(crate) struct EvictSignal {
    state: Mutex<EvictState>,
    cv: Condvar,
}

impl EvictSignal {
    /// Asks for one more eviction pass.
    pub(crate) fn request(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.requested += 1;
        self.cv.notify_all();
    }

    /// Stops the thread after its current pass.
    pub(crate) fn shutdown(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.shutdown = true;
        self.cv.notify_all();
    }

    /// Waits until every pass requested so far has run (or the thread has
    /// stopped); `false` if `timeout` passed first.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while s.completed < s.requested && !s.shutdown {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .cv
                .wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Blocks until there is work; returns the request count to serve, or
    /// `None` on shutdown.
    fn next(&self) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if s.shutdown {
                return None;
            }
            if s.completed < s.requested {
                return Some(s.requested);
            }
            s = self.cv.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn done(&self, upto: u64) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.completed = s.completed.max(upto);
        self.cv.notify_all();
    }
}

/// Starts the eviction thread of a store. It holds only the shared state,
/// never the store handle, so dropping the store stops it.
pub(crate) fn spawn(shared: Arc<StoreShared>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kithara-cache-evict".into())
        .spawn(move || {
            while let Some(upto) = shared.evict.next() {
                match shared.gc(shared.config.max_size) {
                    Ok(report) => {
                        shared.set_usage(report.remaining_bytes);
                        if report.removed > 0 {
                            tracing::debug!(
                                removed = report.removed,
                                freed = report.freed_bytes,
                                remaining = report.remaining_bytes,
                                "cache eviction pass"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cache eviction pass failed"),
                }
                shared.evict.done(upto);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_idle_times_out_without_a_worker_and_returns_after_done() {
        let s = EvictSignal::default();
        assert!(s.wait_idle(Duration::ZERO));
        s.request();
        assert!(!s.wait_idle(Duration::from_millis(1)));
        assert_eq!(s.next(), Some(1));
        s.done(1);
        assert!(s.wait_idle(Duration::ZERO));
        s.shutdown();
        assert_eq!(s.next(), None);
    }
}
