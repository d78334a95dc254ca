//! Opening an HLS stream: the [`StreamType`] implementation of [`Hls`].
//!
//! `Stream::<Hls>::new` fetches the playlist it was given (master or media), picks the first
//! variant, fetches its media playlist and, for an AES-128 stream, the first segment's key (so an
//! unusable key fails the open, not the first read; with a persistent cache the key is left to the
//! segment's fetch, which may find it on disk), and registers the peer; the first segment request
//! follows at once. So the first media byte costs master, media, [key,] [init,] segment round trips.

use std::{
    sync::{atomic::AtomicU64, Arc, Mutex},
    time::Duration,
};

use kithara_stream::{
    AbrMode, Error, Opening, RedactedUrl, Result, StreamParts, StreamType, Timeline,
};

use super::{
    abr_control::AbrShared,
    config::HlsConfig,
    fetch::fetch_body_for,
    layout::Layout,
    peer::{default_policy, label, HlsPeer},
    playlist_cache::PlaylistLoader,
    shared::{Shared, State},
    source::HlsSource,
    variants::VariantSet,
    HlsEvent,
};
use crate::{
    abr::{AbrContext, AbrPolicy, AbrPolicyFactory, Reason},
    playlist::{parse_any, parse_media, ParseOptions, Playlist},
    Hls,
};

impl StreamType for Hls {
    type Config = HlsConfig;
    type Source = HlsSource;
    type Events = HlsEvent;

    async fn open(config: HlsConfig) -> Result<StreamParts<Self>> {
        let dl = config.downloader.clone();
        let opening = Opening::new(&config.options, Some(&dl));
        let (cancel, events) = (opening.cancel.clone(), opening.events.clone());
        let storage = config.storage();
        let options = ParseOptions::default().max_bytes(config.max_playlist_bytes);
        let wire = Arc::new(AtomicU64::new(0));
        // VOD playlists go through the persistent cache when the storage is one; live ones never.
        let playlists = PlaylistLoader {
            dl: dl.clone(),
            cache: storage.store().cloned(),
            headers: config.options.headers.clone(),
            cap: options.max_bytes,
            events: events.clone(),
            wire: wire.clone(),
        };
        let top = playlists.load(config.url.clone(), &cancel).await?;
        let parsed = parse_any(&top.bytes, &top.url, &options).map_err(Error::protocol)?;
        let mut policy = config
            .abr_policy
            .as_ref()
            .map_or_else(default_policy, AbrPolicyFactory::make);
        let (mut set, first, master) = choose_first(parsed, &config, policy.as_mut());
        let first = load_first(&mut set, first, &playlists, &options, &cancel, &top.url).await?;
        // A master is kept only for a VOD stream, once its played media playlist says so.
        if set.playlist(first).is_some_and(|p| !p.is_live()) || !master {
            playlists.store(&config.url, &top);
        }
        let Some(played) = set.snapshot(first) else {
            return Err(Error::Cancelled);
        };
        let live = played.is_live();
        let start_seq = start_sequence(&played, config.live_start_offset);
        // The first segment's key is fetched now, so an unusable key fails the open.
        let first_key = if playlists.cache.is_none() {
            first_key(&dl, &played, start_seq, &config, &cancel, &wire).await?
        } else {
            None // the persistent cache may hold the key; the segment's fetch handles it
        };
        let layout = Layout::default();
        layout.lock().played = Some(Arc::clone(&played));
        let timeline = new_timeline(&layout, &played);
        let abr = Arc::new(AbrShared::new(
            set.bitrates(),
            config.abr_mode,
            config.max_bitrate,
            layout.clone(),
        ));
        let infos = set.summaries();
        let mut state = State::new(set, start_seq, first, policy);
        if let Some((uri, key)) = &first_key {
            let _ = state.planner.keys_mut().lookup(uri);
            let _ = state.planner.keys_mut().complete(uri, Ok(key.as_slice()));
        }
        let shared = Arc::new(Shared {
            st: Mutex::new(state),
            layout: layout.clone(),
            events: events.clone(),
            timeline: timeline.clone(),
            abr: abr.clone(),
            storage: storage.clone(),
            headers: config.options.headers.clone(),
            priority: config.options.priority.clone(),
            options,
            buffer_ahead: config.buffer_ahead,
            file_backed: !matches!(storage, kithara_storage::StorageKind::Memory),
            playlists,
            cancel: cancel.clone(),
        });
        let peer = dl.register(HlsPeer::new(shared, label(&config.url)));
        // A blocked reader wakes with `Cancelled` when the stream's token is cancelled elsewhere.
        let watched = layout.clone();
        opening.on_cancel(move || watched.cancel());
        let source = HlsSource {
            layout,
            timeline,
            wait_timeout: config.options.wait_timeout,
            variants: infos,
            abr,
            peer,
            playlist_bytes: wire,
            seekable: !live,
            opened: first,
            marks: super::marks::Marks::default(),
        };
        Ok(opening.finish(source))
    }
}

/// The variant set of the playlist given, the variant to open with (a fixed one, else the ABR
/// policy's first choice) and whether it was a master playlist.
fn choose_first(
    parsed: Playlist,
    config: &HlsConfig,
    policy: &mut dyn AbrPolicy,
) -> (VariantSet, usize, bool) {
    match parsed {
        Playlist::Master(master) => {
            let set = VariantSet::from_master(
                &master,
                config.audio_name.as_deref(),
                config.language.as_deref(),
            );
            let ladder = set.bitrates();
            let first = match config.abr_mode {
                AbrMode::Fixed(i) if i < set.len() => i,
                _ => {
                    let ctx = AbrContext::new(&ladder, 0, Duration::ZERO, Duration::from_secs(2))
                        .max_bitrate(config.max_bitrate)
                        .buffer_target(config.buffer_ahead);
                    policy
                        .decide(&ctx)
                        .filter(|d| d.reason != Reason::Hold || d.variant < set.len())
                        .map_or(0, |d| d.variant)
                }
            };
            (set, first, true)
        }
        Playlist::Media(media) => (VariantSet::single(media), 0, false),
    }
}

/// Loads the media playlist of variant `first`, else of the nearest variant whose playlist loads
/// (offline, the one an earlier session cached); returns the variant loaded, or the first failure
/// if none does.
async fn load_first(
    set: &mut VariantSet,
    first: usize,
    playlists: &PlaylistLoader,
    options: &ParseOptions,
    cancel: &tokio_util::sync::CancellationToken,
    top: &url::Url,
) -> Result<usize> {
    if set.playlist(first).is_some() {
        return Ok(first);
    }
    let mut order: Vec<usize> = (0..set.len()).collect();
    order.sort_by_key(|&v| (v.abs_diff(first), v));
    let mut failure = None;
    for v in order {
        let Some(url) = set.url(v).cloned() else {
            continue;
        };
        match load_media(playlists, url, options, cancel).await {
            Ok(media) => {
                set.install(v, media);
                return Ok(v);
            }
            Err(e) if e.is_cancelled() => return Err(e),
            // Unreachable without a cache to fall back on: every variant would fail alike.
            Err(e) if (e.is_connect() || e.is_timeout()) && playlists.cache.is_none() => {
                return Err(e)
            }
            Err(e) => {
                tracing::warn!(variant = v, error = %e, "variant playlist failed at open");
                failure.get_or_insert(e);
            }
        }
    }
    Err(failure.unwrap_or_else(|| {
        Error::protocol(crate::Error::NoVariants {
            url: RedactedUrl::new(top),
        })
    }))
}

/// Where the stream starts: the first segment of a VOD playlist, `offset` (default three target
/// durations) back from the live edge of a live one.
fn start_sequence(played: &crate::playlist::MediaPlaylist, offset: Option<Duration>) -> u64 {
    if played.is_live() {
        live_start(played, offset.unwrap_or(played.target_duration * 3))
    } else {
        played.media_sequence
    }
}

/// The stream's timeline: the layout as its byte↔time map, the duration of a VOD.
fn new_timeline(layout: &Layout, played: &crate::playlist::MediaPlaylist) -> Timeline {
    let timeline = Timeline::new();
    timeline.set_time_map(Arc::new(layout.clone()));
    if !played.is_live() {
        timeline.set_duration(played.duration());
    }
    timeline
}

/// Loads and parses the media playlist at `url`, storing it in the cache if it is a VOD one.
async fn load_media(
    playlists: &PlaylistLoader,
    url: url::Url,
    options: &ParseOptions,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<crate::playlist::MediaPlaylist> {
    let body = playlists.load(url.clone(), cancel).await?;
    let media = parse_media(&body.bytes, &body.url, options).map_err(Error::protocol)?;
    if !media.is_live() {
        playlists.store(&url, &body);
    }
    Ok(media)
}

/// Fetches the AES-128 key of the segment at `start_seq`, if it has one: the key's URL and its 16
/// bytes. A failed fetch is [`crate::Error::KeyFetch`], a wrong body [`crate::Error::KeyLength`].
async fn first_key(
    dl: &kithara_stream::dl::Downloader,
    played: &crate::playlist::MediaPlaylist,
    start_seq: u64,
    config: &HlsConfig,
    cancel: &tokio_util::sync::CancellationToken,
    wire: &AtomicU64,
) -> Result<Option<(url::Url, [u8; crate::keys::KEY_LEN])>> {
    let Some(key) = played
        .segments
        .iter()
        .find(|s| s.sequence >= start_seq)
        .and_then(|s| s.key.as_ref())
    else {
        return Ok(None);
    };
    let headers = config.options.headers.clone();
    let purpose = kithara_stream::dl::FetchPurpose::Key;
    match fetch_body_for(
        dl,
        key.uri.clone(),
        headers,
        crate::keys::MAX_KEY_BYTES,
        cancel,
        purpose,
        wire,
    )
    .await
    {
        Ok(body) => crate::keys::validate_key(&key.uri, &body.bytes)
            .map(|k| Some((key.uri.clone(), k)))
            .map_err(Error::protocol),
        Err(e) if e.is_cancelled() => Err(e),
        Err(source) => Err(Error::protocol(crate::Error::KeyFetch {
            uri: RedactedUrl::new(&key.uri),
            source,
        })),
    }
}

/// The media sequence number a live stream starts at: `offset` back from the live edge.
fn live_start(p: &crate::playlist::MediaPlaylist, offset: Duration) -> u64 {
    let mut back = Duration::ZERO;
    for s in p.segments.iter().rev() {
        back += s.duration;
        if back >= offset {
            return s.sequence;
        }
    }
    p.media_sequence
}
