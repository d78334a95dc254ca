//! Segments and init sections in the persistent cache ([`StorageKind::Cache`]).
//!
//! Each piece of a VOD stream is an asset keyed by
//! `AssetKey::new(url).with_segment(url, byte_range)`. Opening one is blocking file I/O, so before
//! a segment is queued the peer has the assets of its pieces opened on tokio's blocking pool and
//! waits for them ([`HlsPeer::prepare_cached`]); then a complete piece is laid out with no request,
//! and a partial one is resumed where it stopped.
//!
//! An AES-128 segment is cached as the ciphertext the server sent; its plaintext lives in memory.
//! A complete cached ciphertext is decrypted on the blocking pool once its key is known: from
//! memory, from the asset (stored there only with `AssetStoreConfig::cache_keys`), or else fetched
//! from its URI, so that without key caching an encrypted VOD cannot be played offline (the key
//! fetch fails with `Error::KeyFetch`, naming the key). A partial ciphertext is dropped and fetched
//! whole: CBC decryption cannot start in the middle of a segment.

use std::sync::Arc;

use kithara_storage::{AssetKey, PinGuard, StorageKind, StorageResource};
use kithara_stream::{dl::FetchCmd, Error};
use url::Url;

use super::{
    peer::HlsPeer,
    shared::{Shared, State},
};
use crate::{
    crypto,
    keys::{KeyLookup, KeyState, KEY_LEN},
    playlist::{Segment, SegmentId},
};

/// Largest cached ciphertext decrypted in one go (a segment is a few seconds of media).
const MAX_CACHED_CIPHERTEXT: u64 = 256 << 20;

/// Whether a resource can still serve or take bytes.
pub(super) fn usable(r: &StorageResource) -> bool {
    r.failure().is_none() && !r.is_cancelled()
}

/// The cache identity of a piece.
fn asset_key(sid: &SegmentId) -> AssetKey {
    AssetKey::new(sid.url()).with_segment(sid.url().as_str(), sid.byte_range().cloned())
}

/// An encrypted segment's key URI and IV, and the key if it is known already.
struct Cipher {
    key_uri: Url,
    iv: [u8; KEY_LEN],
    key: Option<[u8; KEY_LEN]>,
}

/// Blocking work done before a segment is queued.
enum Job {
    /// Open the asset of a piece: its bytes, or the ciphertext of an encrypted segment.
    Open {
        sid: SegmentId,
        cipher: Option<Cipher>,
    },
    /// Decrypt a complete cached ciphertext whose key is now known.
    Decrypt {
        sid: SegmentId,
        res: StorageResource,
        key_uri: Url,
        key: [u8; KEY_LEN],
        iv: [u8; KEY_LEN],
    },
}

/// What a job produced.
enum Opened {
    /// The storage of a clear piece (complete, partial or empty).
    Plain {
        sid: SegmentId,
        res: StorageResource,
    },
    /// The ciphertext storage of an encrypted segment that must be fetched (empty or emptied).
    Cipher {
        sid: SegmentId,
        res: StorageResource,
    },
    /// A complete cached ciphertext whose key is not known yet.
    NeedsKey {
        sid: SegmentId,
        res: StorageResource,
    },
    /// The plaintext of a cached encrypted segment, and the key if it came from the cache.
    Decrypted {
        sid: SegmentId,
        plain: StorageResource,
        key: Option<(Url, [u8; KEY_LEN])>,
    },
}

impl HlsPeer {
    /// Makes sure the cached assets of `seg`'s pieces are open before it is queued. Returns `true`
    /// while the peer must wait (assets being opened, a key being fetched for a cached
    /// ciphertext); the peer is woken when it may go on.
    pub(super) fn prepare_cached(
        &self,
        st: &mut State,
        seg: &Segment,
        cmds: &mut Vec<FetchCmd>,
    ) -> bool {
        if st.opening {
            return true;
        }
        let mut jobs = Vec::new();
        if let Some(init) = seg.init.as_ref().filter(|_| st.planner.needs_init_of(seg)) {
            let sid = init.id();
            if !st.store.get(&sid).is_some_and(usable) {
                jobs.push(Job::Open { sid, cipher: None });
            }
        }
        let sid = seg.id();
        match &seg.key {
            None => {
                if !st.store.get(&sid).is_some_and(usable) {
                    jobs.push(Job::Open { sid, cipher: None });
                }
            }
            Some(_)
                if st
                    .store
                    .get(&sid)
                    .is_some_and(|r| usable(r) && r.is_complete()) => {}
            Some(k) => {
                let iv = k.iv_for(seg.sequence);
                let known = match st.planner.keys().state(&k.uri) {
                    Some(KeyState::Ready(key)) => Some(*key),
                    _ => None,
                };
                match st.cipher.get(&sid).filter(|r| usable(r)).cloned() {
                    None => jobs.push(Job::Open {
                        sid,
                        cipher: Some(Cipher {
                            key_uri: k.uri.clone(),
                            iv,
                            key: known,
                        }),
                    }),
                    Some(res) if res.is_complete() => {
                        match (known, st.planner.keys().state(&k.uri)) {
                            (Some(key), _) => jobs.push(Job::Decrypt {
                                sid,
                                res,
                                key_uri: k.uri.clone(),
                                key,
                                iv,
                            }),
                            (None, Some(KeyState::Failed(e))) => {
                                let e = Error::protocol(e.clone());
                                self.shared.fail(st, e);
                                return true;
                            }
                            (None, _) => {
                                if let KeyLookup::Fetch = st.planner.keys_mut().lookup(&k.uri) {
                                    cmds.push(self.key_cmd(&k.uri));
                                }
                                return true;
                            }
                        }
                    }
                    // Empty: fetched by the segment's command.
                    Some(_) => {}
                }
            }
        }
        if jobs.is_empty() {
            return false;
        }
        self.run_jobs(st, jobs);
        true
    }

    /// Runs `jobs` on the blocking pool; the peer waits (`opening`) until their results are in.
    fn run_jobs(&self, st: &mut State, jobs: Vec<Job>) {
        st.opening = true;
        let shared = self.shared.clone();
        off_runtime(move || {
            let mut pins = Vec::new();
            let results: Vec<_> = jobs
                .into_iter()
                .map(|job| {
                    pin(&shared.storage, job.sid(), &mut pins);
                    run(&shared.storage, cache_keys(&shared.storage), job)
                })
                .collect();
            let mut st = shared.lock();
            st.pins.extend(pins);
            apply(&shared, &mut st, results);
        });
    }
}

impl Shared {
    /// Drops the cached bytes of the pending piece `id` whose resumed fetch found another version
    /// on the server, so that it is fetched whole; `false` (nothing done) unless the piece is a
    /// cached one not yet placed, that is, that no reader has seen.
    pub(super) fn discard_changed(self: &Arc<Self>, st: &mut State, id: u64) -> bool {
        let Some(q) = st
            .planner
            .queued(id)
            .filter(|q| q.len.is_none() && q.payload.res.asset().is_some())
        else {
            return false;
        };
        let (sid, res) = (q.payload.sid.clone(), q.payload.res.clone());
        st.opening = true;
        let shared = self.clone();
        off_runtime(move || {
            let r = res.discard_cached().map_err(Error::from);
            let mut st = shared.lock();
            apply(
                &shared,
                &mut st,
                vec![r.map(|res| Opened::Plain { sid, res })],
            );
        });
        true
    }
}

/// Runs blocking work on tokio's blocking pool (or here, off any runtime).
pub(super) fn off_runtime(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn_blocking(work);
        }
        // Not on a runtime (never the case for a registered peer): do it here.
        Err(_) => work(),
    }
}

/// Pins the piece `sid` for as long as the stream lives: pieces released behind the reader (and
/// closed) stay safe from eviction while the stream may seek back to them.
fn pin(storage: &StorageKind, sid: &SegmentId, pins: &mut Vec<PinGuard>) {
    if let Some(store) = storage.store() {
        match store.pin(&asset_key(sid)) {
            Ok(p) => pins.push(p),
            Err(e) => tracing::debug!(%sid, error = %e, "could not pin a cached piece"),
        }
    }
}

impl Job {
    fn sid(&self) -> &SegmentId {
        match self {
            Job::Open { sid, .. } | Job::Decrypt { sid, .. } => sid,
        }
    }
}

fn cache_keys(storage: &StorageKind) -> bool {
    storage.store().is_some_and(|s| s.config().cache_keys)
}

/// Runs one job. Blocking.
fn run(storage: &StorageKind, cache_keys: bool, job: Job) -> Result<Opened, Error> {
    match job {
        Job::Open { sid, cipher: None } => {
            let res = storage.create_for(&asset_key(&sid))?;
            if res.covered() > 0 {
                tracing::debug!(%sid, present = res.covered(), len = ?res.len(), "piece found in the cache");
            }
            Ok(Opened::Plain { sid, res })
        }
        Job::Open {
            sid,
            cipher: Some(c),
        } => {
            let res = storage.create_for(&asset_key(&sid))?;
            if res.is_complete() {
                let stored = res
                    .asset()
                    .and_then(|a| a.key().ok().flatten())
                    .and_then(|k| <[u8; KEY_LEN]>::try_from(k.as_slice()).ok());
                return match c.key.or(stored) {
                    Some(key) => {
                        let from_disk = stored.filter(|_| c.key.is_none());
                        decrypt(sid, res, &c.key_uri, key, c.iv, cache_keys, from_disk)
                    }
                    None => Ok(Opened::NeedsKey { sid, res }),
                };
            }
            let res = if res.covered() > 0 {
                tracing::debug!(%sid, "dropping a partial cached ciphertext: it is fetched whole");
                res.discard_cached()?
            } else {
                res
            };
            Ok(Opened::Cipher { sid, res })
        }
        Job::Decrypt {
            sid,
            res,
            key_uri,
            key,
            iv,
        } => decrypt(sid, res, &key_uri, key, iv, cache_keys, None),
    }
}

/// Decrypts a complete cached ciphertext into a memory resource; stores the key with the asset
/// when key caching is on. A ciphertext that does not decrypt is dropped, to be fetched again.
fn decrypt(
    sid: SegmentId,
    res: StorageResource,
    key_uri: &Url,
    key: [u8; KEY_LEN],
    iv: [u8; KEY_LEN],
    cache_keys: bool,
    from_disk: Option<[u8; KEY_LEN]>,
) -> Result<Opened, Error> {
    let len = res.len().unwrap_or(0);
    if len > MAX_CACHED_CIPHERTEXT {
        tracing::warn!(%sid, len, "a cached ciphertext is implausibly large: fetching it again");
        return Ok(Opened::Cipher {
            res: res.discard_cached()?,
            sid,
        });
    }
    let mut data = vec![0u8; usize::try_from(len).unwrap_or(0)];
    let mut at = 0;
    while at < data.len() {
        match res.read_at(at as u64, &mut data[at..])? {
            0 => break,
            n => at += n,
        }
    }
    data.truncate(at);
    let plain = match crypto::decrypt(&key, &iv, &data) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(%sid, error = %e, "a cached ciphertext does not decrypt: fetching it again");
            return Ok(Opened::Cipher {
                res: res.discard_cached()?,
                sid,
            });
        }
    };
    if cache_keys && from_disk.is_none() {
        store_key(&res, &key);
    }
    let out = StorageResource::memory();
    out.write_at(0, &plain)?;
    out.set_len(plain.len() as u64)?;
    Ok(Opened::Decrypted {
        sid,
        plain: out,
        key: from_disk.map(|k| (key_uri.clone(), k)),
    })
}

/// Stores `key` with the asset of `res` (a no-op unless key caching is on). Blocking.
pub(super) fn store_key(res: &StorageResource, key: &[u8; KEY_LEN]) {
    if let Some(asset) = res.asset() {
        if let Err(e) = asset.put_key(key) {
            tracing::warn!(asset = %asset.id(), error = %e, "could not store the key in the cache");
        }
    }
}

/// Takes the jobs' results into the peer's state and wakes it.
fn apply(shared: &Arc<Shared>, st: &mut State, results: Vec<Result<Opened, Error>>) {
    st.opening = false;
    for r in results {
        match r {
            Ok(Opened::Plain { sid, res }) => {
                // A discarded copy replaces the cancelled one; a fresh open fills a gap only.
                match st.store.get(&sid) {
                    Some(old) if usable(old) => {}
                    _ => {
                        st.store.insert(sid, res);
                    }
                }
            }
            Ok(Opened::Cipher { sid, res } | Opened::NeedsKey { sid, res }) => {
                st.cipher.insert(sid, res);
            }
            Ok(Opened::Decrypted { sid, plain, key }) => {
                st.cipher.remove(&sid);
                st.store.insert(sid, plain);
                if let Some((uri, k)) = key {
                    if st.planner.keys().state(&uri).is_none() {
                        let _ = st.planner.keys_mut().complete(&uri, Ok(&k));
                    }
                }
            }
            Err(e) => shared.fail(st, e),
        }
    }
    shared.layout.wake_peer();
}
