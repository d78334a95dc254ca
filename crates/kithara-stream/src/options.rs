//! [`StreamOptions`]: the options every protocol's config shares, and [`Opening`], the common start
//! of every [`StreamType::open`](crate::StreamType::open).
//!
//! `FileConfig` and `HlsConfig` embed one `StreamOptions` (field `options`) instead of repeating
//! storage, headers, wait budget, cancel token and events channel. What only a protocol knows (the
//! origin, the downloader a remote origin needs, buffer-ahead, ABR) stays in its own config.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use http::HeaderMap;
use kithara_storage::StorageKind;
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{
    dl::{Downloader, Priority},
    stream::StreamParts,
    StreamType,
};

/// Options shared by every protocol's config (`FileConfig::options`, `HlsConfig::options`).
///
/// `E` is the protocol's event type. Build with [`StreamOptions::builder`]; every field has a
/// default, so `StreamOptions::default()` is a complete value.
///
/// ```
/// use std::time::Duration;
/// use kithara_storage::StorageKind;
/// use kithara_stream::StreamOptions;
/// let options: StreamOptions<()> = StreamOptions::builder()
///     .storage(StorageKind::Memory)
///     .wait_timeout(Duration::from_secs(5))
///     .build();
/// assert_eq!(options.events_capacity, 64);
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct StreamOptions<E> {
    /// Where downloaded bytes are kept (memory, a temporary file, a file, the persistent cache
    /// with `StorageKind::Cache(store)`). Default: the protocol's (a temporary file for a
    /// progressive file, memory for HLS).
    pub storage: Option<StorageKind>,
    /// Extra request headers (auth, cookies) for every request. Default: none.
    #[builder(default)]
    pub headers: HeaderMap,
    /// Longest time one read waits for bytes before it fails with a timeout error. Default: 30 s.
    #[builder(default = Duration::from_secs(30))]
    pub wait_timeout: Duration,
    /// Parent cancellation token (a player's or queue's). Default: a child of the downloader's
    /// root token (a new root for a local file).
    pub cancel: Option<CancellationToken>,
    /// Capacity of the events channel; a receiver that falls further behind is told how many
    /// events it missed ([`Received::Lagged`](crate::Received::Lagged)). Default: 64.
    #[builder(default = 64)]
    pub events_capacity: usize,
    /// Channel to send the stream's events to (to gather the events of several streams in one
    /// place). [`Stream::events`](crate::Stream::events) sees the events of opening either way.
    /// Default: a new channel of `events_capacity`.
    pub events: Option<broadcast::Sender<E>>,
    /// Whether the stream's media fetches run in the foreground or below every foreground
    /// stream's (a queue's next track). Keep a clone to change it after the open. Default:
    /// foreground.
    #[builder(default)]
    pub priority: FetchPriority,
}

/// A stream's fetch priority, shared between the caller and the stream's peer: a background
/// stream (the next track of a queue, pre-buffering) has every media fetch issued as
/// [`Priority::Prefetch`], so the downloader starts a foreground stream's queued fetches first
/// and never gives a background fetch the last free slot of a pool larger than one. Raising it
/// ([`FetchPriority::set_background`]`(false)`, when the track becomes the one heard) applies to
/// every fetch issued from then on; fetches already queued keep their place.
///
/// ```
/// use kithara_stream::{dl::Priority, FetchPriority, StreamOptions};
/// let priority = FetchPriority::background();
/// let options: StreamOptions<()> = StreamOptions::builder().priority(priority.clone()).build();
/// assert_eq!(options.priority.apply(Priority::Urgent), Priority::Prefetch);
/// priority.set_background(false); // the track is now the current one
/// assert_eq!(options.priority.apply(Priority::Urgent), Priority::Urgent);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FetchPriority {
    background: Arc<AtomicBool>,
}

impl FetchPriority {
    /// A background priority (clones share it).
    pub fn background() -> Self {
        let p = Self::default();
        p.set_background(true);
        p
    }

    /// Moves the stream to the background (`true`) or the foreground (`false`).
    pub fn set_background(&self, background: bool) {
        self.background.store(background, Ordering::Release);
    }

    /// Whether the stream is in the background.
    pub fn is_background(&self) -> bool {
        self.background.load(Ordering::Acquire)
    }

    /// The priority to issue a media fetch with, `wanted` being what the peer's own policy asks.
    pub fn apply(&self, wanted: Priority) -> Priority {
        if self.is_background() {
            Priority::Prefetch
        } else {
            wanted
        }
    }
}

impl<E> Default for StreamOptions<E> {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl<E> StreamOptions<E> {
    /// The storage to use: the configured one, else the protocol's `default`.
    pub fn storage_or(&self, default: StorageKind) -> StorageKind {
        self.storage.clone().unwrap_or(default)
    }
}

/// The common start of [`StreamType::open`]: the stream's cancellation token, its events channel
/// (with one receiver subscribed before the first event, which [`Stream::events`](crate::Stream::events)
/// hands out first) and a guard that cancels everything started if the open is dropped or fails.
#[derive(Debug)]
pub struct Opening<E> {
    /// The stream's cancellation token: a child of the configured parent, else of the
    /// downloader's root.
    pub cancel: CancellationToken,
    /// The sender of the stream's events.
    pub events: broadcast::Sender<E>,
    first: broadcast::Receiver<E>,
    guard: DropGuard,
}

impl<E: Clone> Opening<E> {
    /// Starts opening a stream configured with `options`; `downloader` is the one a remote
    /// origin uses (none for a local file).
    pub fn new(options: &StreamOptions<E>, downloader: Option<&Downloader>) -> Self {
        let cancel = match (&options.cancel, downloader) {
            (Some(parent), _) => parent.child_token(),
            (None, Some(dl)) => dl.child_token(),
            (None, None) => CancellationToken::new(),
        };
        let events = options
            .events
            .clone()
            .unwrap_or_else(|| broadcast::channel(options.events_capacity.max(1)).0);
        let first = events.subscribe();
        Self {
            guard: cancel.clone().drop_guard(),
            cancel,
            events,
            first,
        }
    }

    /// Sends an event (nobody listening is not an error: events are informative).
    pub fn send(&self, event: E) {
        let _ = self.events.send(event);
    }

    /// Runs `wake` once the stream's token is cancelled (the stream dropped, or a parent
    /// cancelled), so a reader blocked on the source wakes with `Cancelled`. Call it from inside
    /// the runtime that opens the stream.
    pub fn on_cancel(&self, wake: impl FnOnce() + Send + 'static) {
        let token = self.cancel.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            wake();
        });
    }

    /// The open succeeded: keeps what was started running and bundles the parts of the stream.
    pub fn finish<T: StreamType<Events = E>>(self, source: T::Source) -> StreamParts<T> {
        let Self {
            cancel,
            events,
            first,
            guard,
        } = self;
        guard.disarm();
        StreamParts::new(source, events, cancel).with_open_events(first)
    }
}
