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
use kithara_stream::{RedactedUrl, StreamParts, StreamType};
use tokio::sync::broadcast;

use crate::{
    detect::{is_hls, is_playlist_type, label, named_as_audio, origin},
    events::forward,
    link::{is_link_type, named_as_link, LinkBody},
    options::EVENTS_CAPACITY,
    source::{AnySource, Protocol},
    station, AnyEvent, Error, OpenOptions, Result,
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

/// What opening a source found: a stream's parts, or a station link's entries.
pub(crate) enum Found {
    /// The stream (its events of opening kept for the first receiver).
    Parts(Box<StreamParts<AnyMedia>>),
    /// A station link and its entries, in order, not yet resolved.
    Link(Vec<String>),
}

/// Opens `config.src` as a progressive file or HLS; a station link opens its first entry that
/// opens.
pub(crate) async fn open_parts(config: AnyConfig) -> Result<StreamParts<AnyMedia>> {
    let AnyConfig { src, options } = config;
    match open_found(&src, &options, true).await? {
        Found::Parts(parts) => Ok(*parts),
        Found::Link(entries) => {
            let options = &options;
            station::first_entry(&src, entries, |entry| async move {
                entry_parts(&entry, options).await
            })
            .await
        }
    }
}

/// Opens an entry of a station link: a stream, not another link.
pub(crate) async fn entry_parts(
    src: &FileSrc,
    options: &OpenOptions,
) -> Result<StreamParts<AnyMedia>> {
    match open_found(src, options, false).await? {
        Found::Parts(parts) => Ok(*parts),
        Found::Link(_) => Err(Error::EntryRefused {
            entry: label(src),
            reason: "a station link's entry is not followed to another link",
        }),
    }
}

/// Opens `src` as a progressive file or HLS, or finds it is a station link (`links`: whether a
/// link is looked for at all).
pub(crate) async fn open_found(src: &FileSrc, options: &OpenOptions, links: bool) -> Result<Found> {
    let events = options
        .events
        .clone()
        .unwrap_or_else(|| broadcast::channel(EVENTS_CAPACITY).0);
    // Subscribed before the first event: the first `Stream::events` receiver sees the open's.
    let first = events.subscribe();
    Ok(match open_any(src, options, events, links).await? {
        Found::Parts(parts) => Found::Parts(Box::new(parts.with_open_events(first))),
        link => link,
    })
}

/// Opens `src` as a progressive file or HLS, sending the events to `events`.
async fn open_any(
    src: &FileSrc,
    options: &OpenOptions,
    events: broadcast::Sender<AnyEvent>,
    links: bool,
) -> Result<Found> {
    if is_hls(src) {
        let opened = open_hls(src.clone(), options, events).await;
        return match opened {
            // A `.m3u8` that is no HLS playlist may be a station link: read it as one.
            Err(e) if links && station::not_a_playlist(&e) => {
                match station::read_link(src, options).await {
                    Ok(LinkBody::Entries(entries)) => Ok(Found::Link(entries)),
                    Err(too_large @ Error::LinkTooLarge { .. }) => Err(too_large),
                    // Not a link either (or not readable as one): the HLS error says why.
                    _ => Err(e),
                }
            }
            r => r.map(|p| Found::Parts(Box::new(p))),
        };
    }
    let fixed = options.fixed_variant().is_some();
    // Without a playlist extension only the server's answer tells HLS apart, but a local file
    // or a URL named like an audio file cannot be HLS: refused before any request.
    if fixed && named_as_audio(src) {
        return Err(Error::NotAdaptive { origin: label(src) });
    }
    let (tx, rx) = broadcast::channel(EVENTS_CAPACITY);
    let parts = File::open(options.file_config(src.clone(), tx))
        .await
        .map_err(|source| Error::Stream {
            origin: label(src),
            source,
        })?;
    let StreamParts {
        mut source, cancel, ..
    } = parts;
    // Cancels the file's download on every early return.
    let guard = cancel.clone().drop_guard();
    let content_type = source.content_type().map(str::to_owned);
    let playlist = is_playlist_type(content_type.as_deref());
    let maybe_link = links && (named_as_link(src) || is_link_type(content_type.as_deref()));
    if playlist || maybe_link {
        // The body tells an HLS playlist from a station list (both are served as `mpegurl`).
        let (back, body) = station::read_body(source, src).await?;
        source = back;
        let hls = match station::link_body(src, &body)? {
            LinkBody::Entries(entries) if links => return Ok(Found::Link(entries)),
            LinkBody::Hls => true,
            _ => playlist,
        };
        if hls {
            tracing::debug!(url = %label(src), "the server answered with a playlist: opening as HLS");
            drop((guard, source, rx));
            return open_hls(src.clone(), options, events)
                .await
                .map(|p| Found::Parts(Box::new(p)));
        }
    }
    if fixed {
        return Err(Error::NotAdaptive { origin: label(src) });
    }
    forward(rx, events.clone(), cancel.clone());
    let cancel = guard.disarm();
    let source = AnySource::new(Protocol::File(source), origin(src));
    Ok(Found::Parts(Box::new(StreamParts::new(
        source, events, cancel,
    ))))
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
    if let Some(index) = options.fixed_variant() {
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
