//! [`EventReceiver`]: a receiver of a stream's events that reports lag instead of ending.

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

/// One item from an [`EventReceiver`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received<E> {
    /// The next event.
    Event(E),
    /// The receiver fell behind by more than the channel's capacity
    /// ([`StreamOptions::events_capacity`](crate::StreamOptions::events_capacity)): this many
    /// events were skipped. Receiving goes on with the oldest event still kept.
    Lagged(u64),
}

impl<E> Received<E> {
    /// The event, or `None` for a lag report.
    pub fn event(self) -> Option<E> {
        match self {
            Self::Event(e) => Some(e),
            Self::Lagged(_) => None,
        }
    }
}

/// A receiver of a stream's events, from [`Stream::events`](crate::Stream::events).
///
/// `recv` yields `None` only once every sender is gone (the stream and its downloads ended), so
/// `while let Some(item) = rx.recv().await` runs through a lag, which arrives as
/// [`Received::Lagged`] instead of ending the loop.
#[derive(Debug)]
pub struct EventReceiver<E> {
    rx: broadcast::Receiver<E>,
}

impl<E: Clone> EventReceiver<E> {
    /// Wraps a broadcast receiver.
    pub fn new(rx: broadcast::Receiver<E>) -> Self {
        Self { rx }
    }

    /// The next event or lag report; `None` once the channel is closed and drained.
    pub async fn recv(&mut self) -> Option<Received<E>> {
        match self.rx.recv().await {
            Ok(e) => Some(Received::Event(e)),
            Err(RecvError::Lagged(n)) => Some(Received::Lagged(n)),
            Err(RecvError::Closed) => None,
        }
    }

    /// Like [`recv`](Self::recv), blocking the calling thread (which needs no runtime). Do not
    /// call it from inside an async task.
    pub fn blocking_recv(&mut self) -> Option<Received<E>> {
        futures::executor::block_on(self.recv())
    }

    /// The next event or lag report if one is queued; `None` if nothing is (or the channel is
    /// closed and drained).
    pub fn try_recv(&mut self) -> Option<Received<E>> {
        match self.rx.try_recv() {
            Ok(e) => Some(Received::Event(e)),
            Err(TryRecvError::Lagged(n)) => Some(Received::Lagged(n)),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        }
    }

    /// The events queued now, in order, with lag reports where events were skipped.
    pub fn drain(&mut self) -> Vec<Received<E>> {
        std::iter::from_fn(|| self.try_recv()).collect()
    }

    /// The underlying broadcast receiver.
    pub fn into_inner(self) -> broadcast::Receiver<E> {
        self.rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_reported_and_receiving_goes_on() {
        let (tx, rx) = broadcast::channel(2);
        let mut rx = EventReceiver::new(rx);
        for i in 0..5u32 {
            tx.send(i).ok();
        }
        assert_eq!(rx.try_recv(), Some(Received::Lagged(3)));
        assert_eq!(rx.blocking_recv(), Some(Received::Event(3)));
        assert_eq!(rx.try_recv(), Some(Received::Event(4)));
        assert_eq!(rx.try_recv(), None);
        drop(tx);
        assert_eq!(rx.blocking_recv(), None);
    }
}
