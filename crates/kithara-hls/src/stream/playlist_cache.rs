//! Playlists in the persistent cache ([`StorageKind::Cache`](kithara_storage::StorageKind)).
//!
//! A VOD playlist (a media playlist with `EXT-X-ENDLIST`, or the master of such a stream) is
//! stored as an asset keyed by its URL, with the URL it was finally served from and the response's
//! validators. A live playlist is never stored, and a stored copy that is not a VOD playlist is
//! never served.
//!
//! Loading mirrors a cached progressive file: a copy the cache may serve without asking
//! (offline-first, or validated within the configured freshness) costs no request; otherwise a
//! `HEAD` carrying the stored validators confirms it (a changed version is fetched again with a
//! `GET`), and a server that cannot be reached leaves the cached copy in use, with an event. All
//! cache file I/O runs on tokio's blocking pool.

use std::io::{Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use http::HeaderMap;
use kithara_storage::{AssetKey, AssetStore, CacheError, Validator, Validators};
use kithara_stream::{
    dl::{Downloader, FetchCmd, FetchOutcome, FetchPurpose, Priority},
    Error, RedactedUrl, Result,
};
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    fetch::{fetch_body, Body, OneShot},
    segment_cache::off_runtime,
    HlsEvent,
};

/// First line of a stored playlist; the second is the URL it was served from.
const MAGIC: &[u8] = b"#KITHARA-CACHED-PLAYLIST 1\n";

/// Whether a playlist body may be kept in and served from the cache: a master playlist, or a media
/// playlist that lists every segment (`EXT-X-ENDLIST`). Live playlists never are.
pub(crate) fn is_cacheable(body: &[u8]) -> bool {
    contains(body, b"#EXT-X-ENDLIST") || contains(body, b"#EXT-X-STREAM-INF")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A playlist copy read from the cache.
struct Cached {
    body: Body,
    /// The copy may be served without asking the server.
    fresh: bool,
}

/// Where playlists come from: the network, through the cache when there is one.
pub(crate) struct PlaylistLoader {
    pub(crate) dl: Downloader,
    pub(crate) cache: Option<AssetStore>,
    pub(crate) headers: HeaderMap,
    pub(crate) cap: u64,
    pub(crate) events: broadcast::Sender<HlsEvent>,
    /// Body bytes of every playlist (and open-time key) fetched over the wire, for
    /// [`HlsSource::bytes_fetched`](super::HlsSource).
    pub(crate) wire: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl PlaylistLoader {
    /// The playlist at `url`: from the network, or from the cache as described in the module
    /// documentation. Does not store what it fetched: see [`PlaylistLoader::store`].
    pub(crate) async fn load(&self, url: Url, cancel: &CancellationToken) -> Result<Body> {
        let Some(store) = self.cache.clone() else {
            return self.fetch(url, cancel).await;
        };
        let (s, u, cap) = (store.clone(), url.clone(), self.cap);
        let cached = blocking(move || read_cached(&s, &u, cap)).await.flatten();
        let redacted = RedactedUrl::new(&url);
        if let Some(c) = &cached {
            if c.fresh {
                tracing::debug!(url = %redacted, "playlist served from the cache without a request");
                self.served(&redacted, false);
                return Ok(c.body.clone());
            }
            if let Some(v) = c.body.validator.clone() {
                let len = c.body.bytes.len() as u64;
                match self.confirm(url.clone(), v, len, cancel).await {
                    Ok(()) => {
                        tracing::debug!(url = %redacted, "cached playlist confirmed by the server");
                        let (s, u) = (store.clone(), url.clone());
                        off_runtime(move || mark_validated(&s, &u));
                        self.served(&redacted, true);
                        return Ok(c.body.clone());
                    }
                    Err(e) if e.is_cancelled() => return Err(e),
                    Err(e) if e.is_resource_changed() => {
                        tracing::info!(url = %redacted, error = %e,
                            "the cached playlist changed on the server: fetching it again");
                    }
                    Err(e) => return Ok(self.fall_back(&redacted, e, c)),
                }
            }
        }
        match self.fetch(url, cancel).await {
            Ok(body) => Ok(body),
            Err(e) if e.is_cancelled() => Err(e),
            Err(e) => match &cached {
                Some(c) => Ok(self.fall_back(&redacted, e, c)),
                None => Err(e),
            },
        }
    }

    /// Fetches the playlist at `url` from the network, counting its bytes.
    async fn fetch(&self, url: Url, cancel: &CancellationToken) -> Result<Body> {
        let headers = self.headers.clone();
        fetch_body(&self.dl, url, headers, self.cap, cancel, &self.wire).await
    }

    fn served(&self, url: &RedactedUrl, revalidated: bool) {
        let _ = self.events.send(HlsEvent::PlaylistFromCache {
            url: url.clone(),
            revalidated,
        });
    }

    fn fall_back(&self, url: &RedactedUrl, e: Error, c: &Cached) -> Body {
        tracing::warn!(url = %url, error = %e, "playlist revalidation failed: using the cached copy");
        let _ = self.events.send(HlsEvent::RevalidationFailed {
            url: url.clone(),
            error: e,
        });
        self.served(url, false);
        c.body.clone()
    }

    /// A `HEAD` with the stored validators and length: the downloader refuses an answer of
    /// another version (`ResourceChanged`), so a clean completion confirms the cached copy.
    async fn confirm(
        &self,
        url: Url,
        validator: Validator,
        len: u64,
        parent: &CancellationToken,
    ) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let token = parent.child_token();
        let cmd = FetchCmd::head(url)
            .with_headers(self.headers.clone())
            .with_priority(Priority::Urgent)
            .with_purpose(FetchPurpose::Index)
            .with_validator(Some(validator))
            .with_expected_len(Some(len))
            // A server that cannot be reached leaves the cached copy in use at once.
            .retry_connect(false)
            .with_cancel(token.child_token())
            .on_complete(move |outcome| {
                let _ = tx.send(outcome);
            });
        let _peer = self.dl.register(OneShot {
            cmd: Some(cmd),
            token: token.clone(),
        });
        let outcome = tokio::select! {
            r = rx => r.unwrap_or(FetchOutcome::Cancelled),
            _ = parent.cancelled() => FetchOutcome::Cancelled,
        };
        match outcome {
            FetchOutcome::Completed { .. } => Ok(()),
            FetchOutcome::Failed(e) => Err(e),
            _ => Err(Error::Cancelled),
        }
    }

    /// Stores the VOD playlist fetched from `url` (a no-op without a cache, for a copy that came
    /// from the cache, or for a body that is not [`is_cacheable`]). Runs in the background; a
    /// failure only costs the cached copy.
    pub(crate) fn store(&self, url: &Url, body: &Body) {
        let Some(store) = self.cache.clone() else {
            return;
        };
        if body.cached || !is_cacheable(&body.bytes) {
            return;
        }
        let (url, body) = (url.clone(), body.clone());
        off_runtime(move || match write_cached(&store, &url, &body) {
            Ok(()) => {}
            // Another load of the same playlist is storing it.
            Err(e @ CacheError::Busy { .. }) => {
                tracing::debug!(url = %RedactedUrl::new(&url), error = %e, "playlist not stored");
            }
            Err(e) => {
                tracing::warn!(url = %RedactedUrl::new(&url), error = %e,
                    "could not store the playlist in the cache");
            }
        });
    }
}

/// Runs `f` on the blocking pool; `None` if it could not finish.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Reads the complete, cacheable copy of the playlist at `url`, if the cache holds one. Blocking.
fn read_cached(store: &AssetStore, url: &Url, cap: u64) -> Option<Cached> {
    let asset = match store.open_read_only(&AssetKey::new(url)) {
        Ok(Some(a)) => a,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(url = %RedactedUrl::new(url), error = %e, "cached playlist unavailable");
            return None;
        }
    };
    let index = asset.index();
    let len = index.total_len().filter(|_| index.is_complete())?;
    if len > cap.saturating_add(MAGIC.len() as u64 + 8192) {
        return None;
    }
    let mut data = Vec::new();
    let mut file = asset.data_file();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(len).read_to_end(&mut data).ok()?;
    if data.len() as u64 != len {
        return None;
    }
    let rest = data.strip_prefix(MAGIC)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let served_from = Url::parse(std::str::from_utf8(&rest[..nl]).ok()?).ok()?;
    let body = &rest[nl + 1..];
    if !is_cacheable(body) {
        return None;
    }
    let v = index.validators();
    Some(Cached {
        body: Body {
            bytes: Bytes::copy_from_slice(body),
            url: served_from,
            validator: Validator::new(v.etag.clone(), v.last_modified.clone()),
            cached: true,
        },
        fresh: asset.can_skip_revalidation(),
    })
}

/// Replaces the cached copy of the playlist at `url` with `body`. Blocking.
fn write_cached(store: &AssetStore, url: &Url, body: &Body) -> Result<(), CacheError> {
    let asset = store.open(&AssetKey::new(url))?;
    let index = asset.index();
    if index.total_len().is_some() || !index.present().is_empty() {
        asset.discard()?;
    }
    let mut data = Vec::with_capacity(MAGIC.len() + body.bytes.len() + 256);
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(body.url.as_str().as_bytes());
    data.push(b'\n');
    data.extend_from_slice(&body.bytes);
    let len = data.len() as u64;
    let io = |op: &'static str| {
        let path = asset.data_path().to_path_buf();
        move |source| CacheError::Io { op, path, source }
    };
    let mut file = asset.data_file();
    file.seek(SeekFrom::Start(0)).map_err(io("seek"))?;
    file.write_all(&data).map_err(io("write"))?;
    asset.set_len(len)?;
    let validators = match &body.validator {
        Some(v) => Validators::new(v.etag.clone(), v.last_modified.clone(), None),
        None => Validators::default(),
    };
    asset.set_validators(validators)?;
    asset.record(0..len)?;
    asset.close()
}

/// Notes that the server confirmed the cached playlist at `url` now. Blocking.
fn mark_validated(store: &AssetStore, url: &Url) {
    match store.open(&AssetKey::new(url)) {
        Ok(a) => {
            if let Err(e) = a.mark_validated().and_then(|()| a.close()) {
                tracing::debug!(error = %e, "could not note the playlist's validation");
            }
        }
        Err(e) => tracing::debug!(error = %e, "could not note the playlist's validation"),
    }
}
