//! [`AnyEvent`]: the events of a stream opened by [`open`](crate::open), and the task that
//! forwards the protocol's events into them.
//!
//! The protocol's stream sends [`FileEvent`]s or [`HlsEvent`]s on its own channel. The receiver
//! of that channel is subscribed before the protocol opens (so the events of opening are kept)
//! and a task forwards each event, wrapped, to the channel that [`Stream::events`]
//! (kithara_stream::Stream::events) subscribes to, until the protocol's senders are gone or the
//! stream is cancelled.

use kithara_file::FileEvent;
use kithara_hls::HlsEvent;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// An event of a stream opened by [`open`](crate::open): the protocol's own event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyEvent {
    /// An event of a progressive file.
    File(FileEvent),
    /// An event of an HLS stream.
    Hls(HlsEvent),
}

impl From<FileEvent> for AnyEvent {
    fn from(e: FileEvent) -> Self {
        Self::File(e)
    }
}

impl From<HlsEvent> for AnyEvent {
    fn from(e: HlsEvent) -> Self {
        Self::Hls(e)
    }
}

/// Forwards every event of `from` to `to` until `from` closes or `cancel` fires. A lag of `from`
/// (the forwarder fell behind) is logged at `warn` with the number of events lost.
pub(crate) fn forward<E>(
    mut from: broadcast::Receiver<E>,
    to: broadcast::Sender<AnyEvent>,
    cancel: CancellationToken,
) where
    E: Clone + Send + 'static,
    AnyEvent: From<E>,
{
    tokio::spawn(async move {
        loop {
            // Events already sent are forwarded before a cancel is noticed.
            let event = tokio::select! {
                biased;
                event = from.recv() => event,
                () = cancel.cancelled() => break,
            };
            match event {
                // No receiver at the moment is not an error: events are offered, not queued.
                Ok(e) => {
                    let _ = to.send(AnyEvent::from(e));
                }
                Err(RecvError::Lagged(lost)) => {
                    tracing::warn!(lost, "the stream's events lagged: some were not forwarded");
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}
