//! Reader-side signals: how a synchronous reader's activity reaches its asynchronous peer.
//!
//! The stream's [`Timeline`](crate::Timeline) (the one owner of the reader's position) publishes
//! every read as a [`ChunkPosition`] on the [`ReaderChunkSignal`] and every seek as a
//! [`ReaderSeek`] on the [`ReaderSeekSignal`]. A peer (or ABR, or a player) polls them from
//! `poll_next` with its own cursor; publishing wakes every registered task. The reader never calls
//! the peer or the downloader: demand is a value the peer reads.

use std::{
    ops::Deref,
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use crate::timeline::ChunkPosition;

/// A seek made by the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderSeek {
    /// Target byte offset.
    pub pos: u64,
    /// Seek epoch after the seek (see [`Timeline::seek_epoch`](crate::Timeline::seek_epoch)).
    pub epoch: u64,
}

/// A consumer's position in a signal's history; start with `SignalCursor::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalCursor(u64);

#[derive(Debug)]
struct State<T> {
    latest: Option<T>,
    version: u64,
    wakers: Vec<Waker>,
}

/// A latest-value signal with any number of polling consumers.
#[derive(Debug)]
struct Signal<T> {
    state: Mutex<State<T>>,
}

impl<T: Copy> Signal<T> {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                latest: None,
                version: 0,
                wakers: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, value: T) {
        let wakers = {
            let mut s = self.lock();
            s.latest = Some(value);
            s.version += 1;
            std::mem::take(&mut s.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    fn latest(&self) -> Option<T> {
        self.lock().latest
    }

    fn take_new(&self, cursor: &mut SignalCursor) -> Option<T> {
        let s = self.lock();
        if s.version == cursor.0 {
            return None;
        }
        cursor.0 = s.version;
        s.latest
    }

    fn poll_changed(&self, cx: &mut Context<'_>, cursor: &mut SignalCursor) -> Poll<T> {
        let mut s = self.lock();
        if s.version != cursor.0 {
            if let Some(v) = s.latest {
                cursor.0 = s.version;
                return Poll::Ready(v);
            }
        }
        if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            s.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

macro_rules! signal_type {
    ($(#[$doc:meta])* $name:ident, $value:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Signal<$value>);

        impl $name {
            fn new() -> Self {
                Self(Signal::new())
            }

            /// Publishes a new value and wakes every task polling this signal.
            pub fn publish(&self, value: $value) {
                self.0.publish(value)
            }

            /// The most recent value, if any was published.
            pub fn latest(&self) -> Option<$value> {
                self.0.latest()
            }

            /// The latest value if it is newer than `cursor`, advancing the cursor. Never blocks.
            pub fn take_new(&self, cursor: &mut SignalCursor) -> Option<$value> {
                self.0.take_new(cursor)
            }

            /// Ready with the latest value if it is newer than `cursor` (advancing it); otherwise
            /// registers the task to be woken by the next publish.
            pub fn poll_changed(&self, cx: &mut Context<'_>, cursor: &mut SignalCursor) -> Poll<$value> {
                self.0.poll_changed(cx, cursor)
            }
        }
    };
}

signal_type!(
    /// Publishes each stretch of bytes the reader consumed (used for buffer-ahead limits and ABR).
    ReaderChunkSignal,
    ChunkPosition
);
signal_type!(
    /// Publishes each seek of the reader (used by peers to re-target their downloads).
    ReaderSeekSignal,
    ReaderSeek
);

/// The reader-side signals of one stream.
#[derive(Debug)]
pub struct DecoderHooks {
    /// Bytes consumed by the reader.
    pub chunk: ReaderChunkSignal,
    /// Seeks made by the reader.
    pub seek: ReaderSeekSignal,
}

impl Default for DecoderHooks {
    fn default() -> Self {
        Self {
            chunk: ReaderChunkSignal::new(),
            seek: ReaderSeekSignal::new(),
        }
    }
}

/// A shared handle to a stream's [`DecoderHooks`]: one for the reader, clones for the peer and observers.
#[derive(Debug, Clone, Default)]
pub struct SharedHooks(Arc<DecoderHooks>);

impl SharedHooks {
    /// Fresh hooks with nothing published.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Deref for SharedHooks {
    type Target = DecoderHooks;

    fn deref(&self) -> &DecoderHooks {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    #[test]
    fn cursors_see_each_publish_once() {
        let hooks = SharedHooks::new();
        let mut a = SignalCursor::default();
        let mut b = SignalCursor::default();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(hooks.seek.poll_changed(&mut cx, &mut a).is_pending());
        hooks.seek.publish(ReaderSeek { pos: 10, epoch: 1 });
        hooks.seek.publish(ReaderSeek { pos: 20, epoch: 2 });
        assert_eq!(
            hooks.seek.poll_changed(&mut cx, &mut a),
            Poll::Ready(ReaderSeek { pos: 20, epoch: 2 })
        );
        assert!(hooks.seek.poll_changed(&mut cx, &mut a).is_pending());
        assert_eq!(hooks.seek.take_new(&mut b).map(|s| s.pos), Some(20));
        assert_eq!(hooks.seek.take_new(&mut b), None);
    }

    #[tokio::test]
    async fn publish_wakes_a_waiting_task() {
        let hooks = SharedHooks::new();
        let h2 = hooks.clone();
        let task = tokio::spawn(async move {
            let mut cur = SignalCursor::default();
            futures::future::poll_fn(|cx| h2.chunk.poll_changed(cx, &mut cur)).await
        });
        tokio::task::yield_now().await;
        hooks.chunk.publish(ChunkPosition {
            pos: 0,
            len: 5,
            epoch: 0,
        });
        assert_eq!(task.await.unwrap().len, 5);
    }
}
