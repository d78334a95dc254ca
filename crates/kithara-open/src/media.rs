//! [`AnyMedia`]: the [`StreamType`] whose stream is a progressive file or HLS, decided when it
//! opens, so that `Stream<AnyMedia>` and `Decoder<AnyMedia>` are concrete types.
//!
//! Opening: a `.m3u8` name opens as HLS at once. Anything else opens as a progressive file
//! first; if the server answers with a playlist MIME type, that stream is cancelled and the URL
//! opens as HLS (one request more than a `.m3u8` URL). The protocol's parts are then wrapped: its
//! source in an [`AnySource`], its events forwarded as [`AnyEvent`]s, its cancellation token kept
//! as the stream's.

use kithara_file::{File, FileSrc};
use kithara_hls::Hls;
use kithara_stream::{AbrMode, RedactedUrl, StreamParts, StreamType};
use tokio::sync::broadcast;

use crate::{
    detect::{is_hls, is_playlist_type, label, named_as_audio, origin},
    events::forward,
    options::EVENTS_CAPACITY,
    source::{AnySource, Protocol},
    AnyEvent, Error, OpenOptions, Result,
};

/// A stream that is a progressive file or HLS, whichever the source turns out to be (see the
/// crate docs). Open it with [`open`](crate::open), or with `Stream::<AnyMedia>::new(config)`.
#[derive(Debug, Clone, Copy)]
pub struct AnyMedia;

/// What [`AnyMedia`] opens: a URL or path and the options.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AnyConfig {
    /// An http(s) URL, or a local path.
    pub src: FileSrc,
    /// How to open it.
    pub options: OpenOptions,
}

impl AnyConfig {
    /// The config of `src` with `options`.
    pub fn new(src: impl Into<FileSrc>, options: OpenOptions) -> Self {
        Self {
            src: src.into(),
            options,
        }
    }
}

impl StreamType for AnyMedia {
    type Config = AnyConfig;
    type Source = AnySource;
    type Events = AnyEvent;

    async fn open(config: AnyConfig) -> kithara_stream::Result<StreamParts<Self>> {
        open_parts(config).await.map_err(|e| match e {
            Error::Stream { source, .. } => source,
            other => kithara_stream::Error::protocol(other),
        })
    }
}

/// Opens `config.src` as a progressive file or HLS.
pub(crate) async fn open_parts(config: AnyConfig) -> Result<StreamParts<AnyMedia>> {
    let AnyConfig { src, options } = config;
    let events = options
        .events
        .clone()
        .unwrap_or_else(|| broadcast::channel(EVENTS_CAPACITY).0);
    // Subscribed before the first event: the first `Stream::events` receiver sees the open's.
    let first = events.subscribe();
    let parts = open_any(src, &options, events).await?;
    Ok(parts.with_open_events(first))
}

/// Opens `src` as a progressive file or HLS, sending the events to `events`.
async fn open_any(
    src: FileSrc,
    options: &OpenOptions,
    events: broadcast::Sender<AnyEvent>,
) -> Result<StreamParts<AnyMedia>> {
    if is_hls(&src) {
        return open_hls(src, options, events).await;
    }
    let fixed = matches!(options.abr_mode, AbrMode::Fixed(_));
    // Without a playlist extension only the server's answer tells HLS apart, but a local file
    // or a URL named like an audio file cannot be HLS: refused before any request.
    if fixed && named_as_audio(&src) {
        return Err(Error::NotAdaptive {
            origin: label(&src),
        });
    }
    let (tx, rx) = broadcast::channel(EVENTS_CAPACITY);
    let parts = File::open(options.file_config(src.clone(), tx))
        .await
        .map_err(|source| Error::Stream {
            origin: label(&src),
            source,
        })?;
    let StreamParts { source, cancel, .. } = parts;
    // Cancels the file's download on every early return.
    let guard = cancel.clone().drop_guard();
    if is_playlist_type(source.content_type()) {
        tracing::debug!(url = %label(&src), "the server answered with a playlist: opening as HLS");
        drop((guard, source, rx));
        return open_hls(src, options, events).await;
    }
    if fixed {
        return Err(Error::NotAdaptive {
            origin: label(&src),
        });
    }
    forward(rx, events.clone(), cancel.clone());
    let cancel = guard.disarm();
    let source = AnySource::new(Protocol::File(source), origin(&src));
    Ok(StreamParts::new(source, events, cancel))
}

/// Opens the HLS playlist at `src`; a fixed variant must be in its ladder.
async fn open_hls(
    src: FileSrc,
    options: &OpenOptions,
    events: broadcast::Sender<AnyEvent>,
) -> Result<StreamParts<AnyMedia>> {
    let FileSrc::Remote(url) = src else {
        return Err(Error::LocalPlaylist {
            origin: label(&src),
        });
    };
    let (tx, rx) = broadcast::channel(EVENTS_CAPACITY);
    let parts = Hls::open(options.hls_config(url.clone(), tx))
        .await
        .map_err(|source| Error::Stream {
            origin: RedactedUrl::new(&url).to_string(),
            source,
        })?;
    let StreamParts { source, cancel, .. } = parts;
    let guard = cancel.clone().drop_guard();
    if let AbrMode::Fixed(index) = options.abr_mode {
        let count = source.variants().len();
        if index >= count {
            return Err(Error::NoSuchVariant {
                origin: RedactedUrl::new(&url),
                index,
                count,
            });
        }
    }
    forward(rx, events.clone(), cancel.clone());
    let cancel = guard.disarm();
    let source = AnySource::new(Protocol::Hls(source), Some(RedactedUrl::new(&url)));
    Ok(StreamParts::new(source, events, cancel))
}
