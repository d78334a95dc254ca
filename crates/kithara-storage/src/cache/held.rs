//! The asset locks this process holds, so that waiting for a busy asset held by this very
//! process (a stream of the same asset just dropped, whose flusher is finishing its last
//! flush) wakes the moment it is released instead of polling the file lock.
//!
//! File locks offer no notification and no wait with a deadline, so an asset held by another
//! process can only be retried; [`wait_released`] says which case applies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::error::{CacheError, CacheResult};

/// Lock-file paths held by this process, with how many handles hold each.
static HELD: LazyLock<(Mutex<HashMap<PathBuf, usize>>, Condvar)> =
    LazyLock::new(|| (Mutex::new(HashMap::new()), Condvar::new()));

fn held() -> MutexGuard<'static, HashMap<PathBuf, usize>> {
    HELD.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The one name of a lock file: canonical when it can be resolved (it exists while held).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Marks a lock file as held by this process until it drops. Declared after the lock's file
/// handle in [`Asset`](super::Asset), so it drops after the lock is released.
#[derive(Debug)]
pub(crate) struct HeldGuard(PathBuf);

/// Records that this process now holds the lock at `path`.
pub(crate) fn hold(path: &Path) -> HeldGuard {
    let path = canonical(path);
    *held().entry(path.clone()).or_insert(0) += 1;
    HeldGuard(path)
}

impl Drop for HeldGuard {
    fn drop(&mut self) {
        let mut map = held();
        if let Some(n) = map.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.0);
            }
        }
        drop(map);
        HELD.1.notify_all();
    }
}

/// How a wait for a busy lock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// This process no longer holds it: try again.
    Released,
    /// This process does not hold it: another process does; only retrying can tell when it is free.
    Elsewhere,
    /// Still held here at the deadline.
    TimedOut,
}

/// Waits, until `deadline`, for this process to release the lock at `path`.
pub(crate) fn wait_released(path: &Path, deadline: Instant) -> Release {
    let path = canonical(path);
    let mut map = held();
    if !map.contains_key(&path) {
        return Release::Elsewhere;
    }
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Release::TimedOut;
        }
        map = HELD
            .1
            .wait_timeout(map, deadline - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        if !map.contains_key(&path) {
            return Release::Released;
        }
    }
}

/// Waits, until `deadline`, for this process to hold no asset lock at all; `false` at the
/// deadline.
pub(crate) fn wait_all_released(deadline: Instant) -> bool {
    let mut map = held();
    while !map.is_empty() {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        map = HELD
            .1
            .wait_timeout(map, deadline - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    true
}

/// Pause between two tries of a lock another process holds.
const ELSEWHERE_POLL: Duration = Duration::from_millis(5);

/// Runs `open` until it does not fail with [`CacheError::Busy`], or until `timeout` has passed
/// (then the last `Busy` is returned). A holder in this process is waited for until it releases
/// the lock at `lock_path`; one in another process is retried every few milliseconds.
pub(crate) fn retry_busy<T>(
    lock_path: &Path,
    timeout: Duration,
    mut open: impl FnMut() -> CacheResult<T>,
) -> CacheResult<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match open() {
            Err(CacheError::Busy { .. }) if Instant::now() < deadline => {
                if wait_released(lock_path, deadline) == Release::Elsewhere {
                    let left = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(ELSEWHERE_POLL.min(left));
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_wakes_the_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"").unwrap();
        let guard = hold(&path);
        let again = hold(&path);
        drop(again);
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                wait_released(&path, Instant::now() + Duration::from_secs(10))
            })
        };
        drop(guard);
        // Released if the waiter was already waiting, Elsewhere if it came after the drop;
        // never a wait until the deadline.
        assert_ne!(waiter.join().unwrap(), Release::TimedOut);
        let other = dir.path().join("other");
        assert_eq!(
            wait_released(&other, Instant::now() + Duration::from_secs(10)),
            Release::Elsewhere
        );
    }

    #[test]
    fn waiting_for_every_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock-all");
        std::fs::write(&path, b"").unwrap();
        let guard = hold(&path);
        let waiter =
            std::thread::spawn(|| wait_all_released(Instant::now() + Duration::from_secs(10)));
        drop(guard);
        // Other tests of this binary may hold locks a moment longer, never ten seconds.
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_held_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"").unwrap();
        let _guard = hold(&path);
        assert_eq!(
            wait_released(&path, Instant::now() + Duration::from_millis(20)),
            Release::TimedOut
        );
    }
}
