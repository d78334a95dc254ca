//! The downloader's global pool of fetch slots, handed out by priority.
//!
//! A command waits for a slot before its first request. Waiting commands get freed slots in
//! priority order (urgent, normal, prefetch), first come first served within a priority, across
//! every peer. Prefetches never hold every slot of a pool larger than one, so read-ahead alone
//! never keeps a blocked reader's request waiting. A
//! waiting command whose priority is raised ([`PriorityHandle`]) moves up at once, keeping its
//! arrival order.

use std::{
    cmp::Reverse,
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::oneshot;

use super::{fetch::Priority, promote::PriorityHandle};

/// The pool. Shared by every peer of one downloader.
#[derive(Debug)]
pub(super) struct Slots {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    free: usize,
    prefetching: usize,
    seq: u64,
    /// Waiting commands, highest priority first, then by arrival.
    waiters: BTreeMap<Key, oneshot::Sender<Slot>>,
}

/// A waiter's place: its priority, then its arrival number.
type Key = (Reverse<Priority>, u64);

/// A place in the slot queue. Cancel-safe: dropping it (or the `wait` future) gives up the
/// place (a slot handed over meanwhile goes back to the pool).
#[derive(Debug)]
pub(super) enum SlotRequest {
    /// A slot was free.
    Ready(Slot),
    /// Queued at `key`; the slot arrives on the channel.
    Waiting {
        rx: oneshot::Receiver<Slot>,
        key: Key,
        slots: Arc<Slots>,
    },
}

impl SlotRequest {
    /// The slot, once it is this request's turn; a raise of `priority` meanwhile moves the
    /// request up the queue.
    pub(super) async fn wait(self, priority: &PriorityHandle) -> Slot {
        let (mut rx, mut key, slots) = match self {
            Self::Ready(slot) => return slot,
            Self::Waiting { rx, key, slots } => (rx, key, slots),
        };
        loop {
            let raised = priority.raised();
            tokio::pin!(raised);
            raised.as_mut().enable();
            let now = priority.get();
            if now > key.0 .0 {
                slots.requeue(&mut key, now);
                continue;
            }
            tokio::select! {
                r = &mut rx => return match r {
                    Ok(slot) => slot,
                    // The pool lives as long as any request to it; a dropped sender cannot happen.
                    Err(_) => std::future::pending().await,
                },
                () = &mut raised => {}
            }
        }
    }
}

/// One taken slot; dropping it gives it back and hands it to the next eligible waiter.
#[derive(Debug)]
pub(super) struct Slot {
    slots: Arc<Slots>,
    prefetch: bool,
    /// False for a slot whose hand-off failed (its counters were already undone).
    armed: bool,
}

impl Slots {
    pub(super) fn new(capacity: usize) -> Arc<Self> {
        let capacity = capacity.max(1);
        Arc::new(Self {
            capacity,
            state: Mutex::new(State {
                free: capacity,
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Slots in use.
    pub(super) fn in_use(&self) -> usize {
        self.capacity - self.lock().free
    }

    /// Commands waiting for a slot: (urgent, normal, prefetch).
    pub(super) fn waiting(&self) -> (usize, usize, usize) {
        let st = self.lock();
        let count = |p| st.waiters.keys().filter(|k| k.0 .0 == p).count();
        (
            count(Priority::Urgent),
            count(Priority::Normal),
            count(Priority::Prefetch),
        )
    }

    fn eligible(&self, st: &State, priority: Priority) -> bool {
        st.free > 0
            && (priority != Priority::Prefetch
                || self.capacity == 1
                || st.prefetching + 1 < self.capacity)
    }

    fn take(self: &Arc<Self>, st: &mut State, priority: Priority) -> Slot {
        st.free -= 1;
        let prefetch = priority == Priority::Prefetch;
        if prefetch {
            st.prefetching += 1;
        }
        Slot {
            slots: self.clone(),
            prefetch,
            armed: true,
        }
    }

    /// Takes a place in the queue for a command of `priority` now (so commands queued one after
    /// the other keep that order), to be awaited with [`SlotRequest::wait`].
    pub(super) fn request(self: &Arc<Self>, priority: Priority) -> SlotRequest {
        let mut st = self.lock();
        if self.eligible(&st, priority) {
            return SlotRequest::Ready(self.take(&mut st, priority));
        }
        let (tx, rx) = oneshot::channel();
        st.seq += 1;
        let key = (Reverse(priority), st.seq);
        st.waiters.insert(key, tx);
        SlotRequest::Waiting {
            rx,
            key,
            slots: self.clone(),
        }
    }

    /// Moves the waiter at `key` to priority `to`, keeping its arrival number, and hands out
    /// what is now eligible. A waiter already served is left as it is (its slot is on its way).
    fn requeue(self: &Arc<Self>, key: &mut Key, to: Priority) {
        let mut st = self.lock();
        let old = *key;
        *key = (Reverse(to), old.1);
        if let Some(tx) = st.waiters.remove(&old) {
            st.waiters.insert(*key, tx);
            self.dispatch(&mut st);
        }
    }

    /// Waits for a slot for a command of `priority`.
    #[cfg(test)]
    pub(super) async fn acquire(self: &Arc<Self>, priority: Priority) -> Slot {
        self.request(priority)
            .wait(&PriorityHandle::new(priority))
            .await
    }

    fn release(self: &Arc<Self>, prefetch: bool) {
        let mut st = self.lock();
        st.free += 1;
        if prefetch {
            st.prefetching -= 1;
        }
        self.dispatch(&mut st);
    }

    /// Hands free slots to the first eligible waiters.
    fn dispatch(self: &Arc<Self>, st: &mut State) {
        loop {
            let next = st
                .waiters
                .keys()
                .find(|(Reverse(p), _)| self.eligible(st, *p))
                .copied();
            let Some(key) = next else { return };
            let Some(tx) = st.waiters.remove(&key) else {
                return;
            };
            let slot = self.take(st, key.0 .0);
            if let Err(mut slot) = tx.send(slot) {
                // The waiter gave up: undo without re-entering the lock, and try the next one.
                slot.armed = false;
                st.free += 1;
                if slot.prefetch {
                    st.prefetching -= 1;
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            self.slots.release(self.prefetch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urgent_waiters_go_first_and_prefetch_leaves_a_slot() {
        let slots = Slots::new(2);
        let p1 = slots.acquire(Priority::Prefetch).await;
        // The last slot is not for prefetching.
        let slots2 = slots.clone();
        let mut pre = tokio::spawn(async move { slots2.acquire(Priority::Prefetch).await });
        let n = slots.acquire(Priority::Normal).await;
        assert_eq!(slots.in_use(), 2);
        let slots3 = slots.clone();
        let urgent = tokio::spawn(async move { slots3.acquire(Priority::Urgent).await });
        tokio::task::yield_now().await;
        drop(n);
        let u = urgent.await.unwrap();
        assert!(!u.prefetch);
        assert!(futures::poll!(&mut pre).is_pending());
        drop(u);
        drop(p1);
        let p2 = pre.await.unwrap();
        assert!(p2.prefetch);
        drop(p2);
        assert_eq!(slots.in_use(), 0);
    }

    #[tokio::test]
    async fn a_raised_waiter_goes_before_earlier_waiters_of_its_old_priority() {
        let slots = Slots::new(1);
        let held = slots.acquire(Priority::Urgent).await;
        let handle = PriorityHandle::new(Priority::Prefetch);
        let pre = slots.request(Priority::Prefetch);
        let s2 = slots.clone();
        let normal = tokio::spawn(async move { s2.acquire(Priority::Normal).await });
        let raised = handle.clone();
        let mut pre = tokio::spawn(async move { pre.wait(&raised).await });
        tokio::task::yield_now().await;
        assert_eq!(slots.waiting(), (0, 1, 1));
        assert!(handle.raise(Priority::Urgent));
        assert!(!handle.raise(Priority::Normal), "never lowered");
        while slots.waiting() != (1, 1, 0) {
            tokio::task::yield_now().await;
        }
        drop(held);
        let slot = (&mut pre).await.unwrap();
        assert!(!slot.prefetch, "counted by the priority it was served at");
        assert!(!normal.is_finished());
        drop(slot);
        drop(normal.await.unwrap());
        assert_eq!(slots.in_use(), 0);
    }

    #[tokio::test]
    async fn an_abandoned_wait_returns_its_slot() {
        let slots = Slots::new(1);
        let held = slots.acquire(Priority::Normal).await;
        let s2 = slots.clone();
        let waiter = tokio::spawn(async move { s2.acquire(Priority::Urgent).await });
        tokio::task::yield_now().await;
        waiter.abort();
        let _ = waiter.await;
        drop(held);
        assert_eq!(slots.in_use(), 0);
        let _again = slots.acquire(Priority::Prefetch).await;
        assert_eq!(slots.in_use(), 1);
    }
}
