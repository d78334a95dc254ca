//! [`WaitOutcome`] and the blocking wait machinery behind
//! [`StorageResource::wait_range`](crate::StorageResource::wait_range).
//!
//! All mutable bookkeeping of a resource (present ranges, known length,
//! failure, cancellation, number of blocked waiters) lives in one [`State`]
//! behind a `std::sync::Mutex`, paired with a `Condvar`. Waiters block with
//! `Condvar::wait_timeout` and re-check the whole predicate on every wake
//! (spurious or not); every state change that could end a wait calls
//! `notify_all` when at least one waiter is registered. A std `Condvar` is
//! used rather than an async primitive because the reader is a synchronous
//! decoder thread, not a task on an async runtime.

use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{Error, RangeSet};

/// Blocking waits at least this long are logged at debug level.
const SLOW_WAIT: Duration = Duration::from_millis(50);

/// A failure cause shared between the writer side and all readers.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// How a successful [`StorageResource::wait_range`](crate::StorageResource::wait_range)
/// ended. The ways a wait can fail (the download failed, the resource was
/// cancelled, the deadline passed) are [`Error`]s.
///
/// This is the one wait outcome of the workspace: `kithara_stream::Source::wait_range`
/// returns it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitOutcome {
    /// The requested range (its end clamped to the known total length) is
    /// present and can be read with
    /// [`read_at`](crate::StorageResource::read_at).
    Ready,
    /// The range starts at or after the end of the resource (its known total
    /// length, or a proven upper bound of it): nothing more will ever be there.
    Eof,
}

/// Mutable bookkeeping of one resource, guarded by [`StateCell::state`].
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Committed byte ranges; only grows.
    pub(crate) ranges: RangeSet,
    /// Total length in bytes, once known.
    pub(crate) len: Option<u64>,
    /// A proven upper bound of the length while it is not known exactly
    /// (e.g. a server refused a range starting there).
    pub(crate) max_len: Option<u64>,
    /// Validator of the version whose bytes are stored.
    pub(crate) validator: Option<crate::Validator>,
    /// First failure reported by the writer side.
    pub(crate) failed: Option<SharedError>,
    /// Whether the resource was cancelled.
    pub(crate) cancelled: bool,
    /// The first byte a ring resource keeps: waits before it fail at once. 0 for other backends.
    pub(crate) floor: u64,
    /// Number of threads currently blocked in [`StateCell::wait_range`].
    waiters: usize,
}

impl State {
    /// Where the resource ends at the latest: its length, or the proven bound.
    pub(crate) fn end_bound(&self) -> Option<u64> {
        self.len.or(self.max_len)
    }

    /// The outcome a wait for `range` would have right now, or `None` if it
    /// must keep waiting. Checks, in order: cancelled, EOF, ready, failed.
    pub(crate) fn check(&self, range: &Range<u64>) -> Option<Result<WaitOutcome, Error>> {
        if self.cancelled {
            return Some(Err(Error::Cancelled));
        }
        let end = match self.end_bound() {
            Some(bound) if range.start >= bound => return Some(Ok(WaitOutcome::Eof)),
            Some(bound) => range.end.min(bound),
            None => range.end,
        };
        if range.start < self.floor {
            return Some(Err(Error::Evicted {
                pos: range.start,
                kept: self.floor..self.ranges.max_end().max(self.floor),
            }));
        }
        if self.ranges.contains(range.start..end) {
            return Some(Ok(WaitOutcome::Ready));
        }
        self.failed.clone().map(|cause| Err(Error::Failed(cause)))
    }
}

/// A [`State`] together with the condition variable its waiters block on.
#[derive(Debug, Default)]
pub(crate) struct StateCell {
    state: Mutex<State>,
    cond: Condvar,
}

impl StateCell {
    /// Locks the state. A poisoned lock is recovered: every update of
    /// [`State`] is a single assignment or `RangeSet` call, so a panic
    /// elsewhere cannot leave it half-updated.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases `guard` and wakes all waiters if there are any. Call after
    /// every state change that could end a wait.
    pub(crate) fn notify(&self, guard: MutexGuard<'_, State>) {
        let has_waiters = guard.waiters > 0;
        drop(guard);
        if has_waiters {
            self.cond.notify_all();
        }
    }

    /// Blocks until [`State::check`] yields an outcome for `range` or
    /// `timeout` elapses. A timeout too large to represent as a deadline
    /// waits without a deadline.
    pub(crate) fn wait_range(
        &self,
        range: Range<u64>,
        timeout: Duration,
    ) -> Result<WaitOutcome, Error> {
        let mut guard = self.lock();
        if let Some(outcome) = guard.check(&range) {
            return outcome;
        }
        // Only a wait that blocks needs the clock.
        let began = Instant::now();
        let deadline = began.checked_add(timeout);
        guard.waiters += 1;
        let outcome = loop {
            if let Some(outcome) = guard.check(&range) {
                break outcome;
            }
            match deadline {
                None => {
                    guard = self
                        .cond
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        tracing::trace!(?range, "storage wait timed out");
                        break Err(Error::TimedOut {
                            range: range.clone(),
                            waited: now - began,
                        });
                    }
                    guard = self
                        .cond
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        };
        guard.waiters -= 1;
        drop(guard);
        let waited = began.elapsed();
        if waited >= SLOW_WAIT {
            tracing::debug!(
                pos = range.start,
                ?waited,
                ?outcome,
                "reader waited for bytes"
            );
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("boom")]
    struct Boom;

    #[test]
    fn check_order() {
        let mut s = State::default();
        assert!(s.check(&(0..10)).is_none());
        assert!(matches!(s.check(&(3..3)), Some(Ok(WaitOutcome::Ready))));
        s.failed = Some(Arc::new(Boom));
        assert!(matches!(s.check(&(0..10)), Some(Err(Error::Failed(_)))));
        s.ranges.insert(0..4);
        assert!(matches!(s.check(&(0..4)), Some(Ok(WaitOutcome::Ready))));
        s.max_len = Some(6);
        assert!(matches!(s.check(&(6..10)), Some(Ok(WaitOutcome::Eof))));
        s.len = Some(4);
        assert!(matches!(s.check(&(0..10)), Some(Ok(WaitOutcome::Ready))));
        assert!(matches!(s.check(&(4..10)), Some(Ok(WaitOutcome::Eof))));
        s.cancelled = true;
        assert!(matches!(s.check(&(0..4)), Some(Err(Error::Cancelled))));
    }

    #[test]
    fn waiter_count_is_restored() {
        let cell = Arc::new(StateCell::default());
        let out = cell.wait_range(0..1, Duration::from_millis(20));
        assert!(matches!(out, Err(Error::TimedOut { .. })));
        assert_eq!(cell.lock().waiters, 0);

        // No deadline (Duration::MAX): woken by the state change.
        let waiter = Arc::clone(&cell);
        let handle = std::thread::spawn(move || waiter.wait_range(0..1, Duration::MAX));
        let mut state = cell.lock();
        state.ranges.insert(0..1);
        cell.notify(state);
        assert!(matches!(handle.join().unwrap(), Ok(WaitOutcome::Ready)));
        assert_eq!(cell.lock().waiters, 0);
    }
}
