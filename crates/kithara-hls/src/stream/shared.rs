//! The state an HLS stream's peer shares with its commands' callbacks: what is in flight, what
//! waits to be placed in the layout, keys, exclusions and the ABR policy; and what happens when a
//! piece, a key or a playlist arrives or fails.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::Waker,
    time::{Duration, Instant},
};

use http::HeaderMap;
use kithara_storage::{StorageKind, StorageResource};
use kithara_stream::{dl::FetchOutcome, BoundaryKind, Error, MediaInfo, Timeline};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    abandon::InFlight,
    abr_control::AbrShared,
    encrypted::Encrypted,
    fetch::Body,
    layout::{Entry, Layout, Piece, SegmentTime},
    playlist_cache::PlaylistLoader,
    variants::VariantSet,
    HlsEvent,
};
use crate::{
    abr::{AbrPolicy, Decision, ExclusionConfig, Exclusions},
    keys::{KeyCache, KeyState},
    playlist::{parse_media, MediaPlaylist, ParseOptions, SegmentId},
};

/// How much media behind the reader a live stream keeps.
pub(super) const LIVE_RETENTION: Duration = Duration::from_secs(60);

/// A piece fetched (or being fetched) and not yet placed.
pub(super) struct Pending {
    pub(super) id: u64,
    pub(super) variant: usize,
    pub(super) piece: Piece,
    /// The piece's identity (URL and byte range).
    pub(super) sid: SegmentId,
    pub(super) res: StorageResource,
    /// Exact plaintext length, once known.
    pub(super) len: Option<u64>,
    pub(super) time: Duration,
    pub(super) duration: Duration,
    pub(super) boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
}

pub(crate) struct State {
    pub(crate) set: VariantSet,
    pub(super) generation: u64,
    pub(super) next_seq: u64,
    /// Variant and init URL of the last piece queued in this run.
    pub(super) last_variant: Option<usize>,
    pub(super) last_init: Option<(Url, Option<std::ops::Range<u64>>)>,
    /// The segment in flight: (pending id, variant, sequence, token).
    pub(super) segment: Option<InFlight>,
    /// A decision forced by the abandon rule, used for the next segment.
    pub(super) forced: Option<Decision>,
    pub(super) pending: VecDeque<Pending>,
    pub(super) encrypted: Vec<Encrypted>,
    pub(super) keys: KeyCache,
    pub(super) loading: Vec<usize>,
    pub(super) policy: Box<dyn AbrPolicy>,
    pub(super) exclusions: Exclusions,
    pub(super) next_id: u64,
    pub(super) reload_due: Option<Instant>,
    pub(super) unchanged_reloads: u32,
    pub(super) ended: bool,
    pub(super) failed: bool,
    pub(super) waker: Option<Waker>,
    /// Every piece of a VOD stream fetched so far, by URI and byte range: a piece laid out again
    /// (a seek back into media a later run already fetched) is reused without a request.
    pub(super) store: HashMap<SegmentId, StorageResource>,
    /// Cached ciphertext of encrypted VOD segments not yet decrypted (their plaintext goes in
    /// `store`); only with a persistent cache.
    pub(super) cipher: HashMap<SegmentId, StorageResource>,
    /// Every cached piece this stream opened, kept from eviction until it ends.
    pub(super) pins: Vec<kithara_storage::PinGuard>,
    /// Whether cached assets are being opened on the blocking pool (the peer waits for them).
    pub(super) opening: bool,
    /// Whether the stream started live: its times are then counted from where it started, also
    /// after `ENDLIST` appears (playlist times slide with the window).
    pub(super) started_live: bool,
}

/// Everything the peer and its commands' callbacks share.
pub(crate) struct Shared {
    pub(crate) st: Mutex<State>,
    pub(crate) layout: Layout,
    pub(crate) events: broadcast::Sender<HlsEvent>,
    pub(crate) timeline: Timeline,
    pub(crate) abr: Arc<AbrShared>,
    pub(crate) storage: StorageKind,
    pub(crate) headers: HeaderMap,
    /// Background streams issue their media fetches as prefetches (the caller may raise it).
    pub(crate) priority: kithara_stream::FetchPriority,
    pub(crate) options: ParseOptions,
    pub(crate) buffer_ahead: Duration,
    /// Whether pieces are kept in files (each holds a descriptor while it lives).
    pub(crate) file_backed: bool,
    /// Where playlists come from (through the persistent cache, if any).
    pub(crate) playlists: PlaylistLoader,
    pub(crate) cancel: CancellationToken,
}

impl State {
    pub(crate) fn new(set: VariantSet, start_seq: u64, policy: Box<dyn AbrPolicy>) -> Self {
        let variants = set.len();
        let started_live = set.is_live();
        Self {
            set,
            generation: 0,
            next_seq: start_seq,
            last_variant: None,
            last_init: None,
            segment: None,
            forced: None,
            pending: VecDeque::new(),
            encrypted: Vec::new(),
            keys: KeyCache::new(),
            loading: Vec::new(),
            policy,
            exclusions: Exclusions::new(variants, ExclusionConfig::default()),
            next_id: 0,
            reload_due: None,
            unchanged_reloads: 0,
            ended: false,
            failed: false,
            waker: None,
            started_live,
            store: HashMap::new(),
            cipher: HashMap::new(),
            pins: Vec::new(),
            opening: false,
        }
    }

    pub(super) fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Places every pending piece whose length is known, in order, and ends the layout when the
    /// peer has queued its last piece and every queued piece is placed.
    pub(super) fn place_ready(&self, st: &mut State) {
        while st.pending.front().is_some_and(|p| p.len.is_some()) {
            let Some(p) = st.pending.pop_front() else {
                break;
            };
            let entry = Entry {
                start: 0,
                len: p.len.unwrap_or(0),
                res: p.res,
                variant: p.variant,
                piece: p.piece,
                time: p.time,
                duration: p.duration,
            };
            if let Some(pos) = self.layout.place(st.generation, entry, p.boundary) {
                if matches!(p.boundary, Some((BoundaryKind::Discontinuity, _))) {
                    let _ = self.events.send(HlsEvent::Discontinuity { pos });
                }
            }
        }
        // Nothing more will be queued and nothing queued is left: the reader may meet the end
        // (not before: a reader at the end of what is placed would take it for the stream's).
        if st.ended && st.pending.is_empty() && !self.layout.lock().ended {
            self.layout.end_of_stream();
        }
    }

    pub(super) fn set_len(&self, id: u64, len: u64) {
        let mut st = self.lock();
        if let Some(p) = st.pending.iter_mut().find(|p| p.id == id) {
            if p.len.is_none() {
                let _ = p.res.set_len(len);
                p.len = Some(len);
            }
        }
        self.place_ready(&mut st);
        st.wake();
    }

    /// The whole stream fails with `e`.
    pub(super) fn fail(&self, st: &mut State, e: Error) {
        if !st.failed {
            st.failed = true;
            // Cached ciphertext waiting for a key is of no use any more: release its assets.
            st.cipher.clear();
            tracing::error!(error = %e, "HLS stream failed");
            self.layout.fail(e.clone());
            let _ = self.events.send(HlsEvent::Failed(e));
        }
        st.wake();
    }

    /// A segment (or its variant's playlist) failed: exclude the variant and fetch the same
    /// segment elsewhere, or fail the stream when no variant is left.
    pub(super) fn variant_failed(&self, st: &mut State, variant: usize, e: Error) {
        let now = Instant::now();
        st.exclusions.exclude(variant, now);
        let _ = self.events.send(HlsEvent::VariantExcluded {
            variant,
            error: e.clone(),
        });
        let ladder = st.set.bitrates();
        match st.exclusions.failover(variant, &ladder, now) {
            Some(v) => {
                tracing::warn!(from = variant, to = v, error = %e, "variant failed over");
                st.wake();
            }
            None => self.fail(st, e),
        }
    }

    /// Decrypts encrypted segments whose key and bytes are both there, then places them.
    pub(super) fn decrypt_ready(&self, st: &mut State) {
        let mut i = 0;
        while i < st.encrypted.len() {
            let key = match st.keys.state(&st.encrypted[i].key_uri) {
                Some(KeyState::Ready(k)) if st.encrypted[i].complete => *k,
                Some(KeyState::Failed(e)) => {
                    let e = e.clone();
                    st.encrypted.remove(i);
                    self.fail(st, Error::protocol(e));
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            };
            let enc = st.encrypted.remove(i);
            let id = enc.id;
            let cipher = enc.cipher.clone();
            match enc.finish(&key) {
                Ok(len) => {
                    if let Some((sid, res)) = cipher {
                        // The ciphertext is in the cache now; its key goes with it if allowed.
                        st.cipher.remove(&sid);
                        let keep_key = self.storage.store().is_some_and(|s| s.config().cache_keys);
                        if keep_key {
                            super::segment_cache::off_runtime(move || {
                                super::segment_cache::store_key(&res, &key);
                            });
                        }
                    }
                    if let Some(p) = st.pending.iter_mut().find(|p| p.id == id) {
                        let _ = p.res.set_len(len);
                        p.len = Some(len);
                    }
                }
                Err(e) => self.fail(st, e),
            }
        }
        self.place_ready(st);
    }
}

impl Shared {
    pub(super) fn piece_done(
        self: &Arc<Self>,
        id: u64,
        variant: usize,
        piece: Piece,
        outcome: FetchOutcome,
    ) {
        let mut st = self.lock();
        if st.segment.as_ref().is_some_and(|s| s.id == id) {
            st.segment = None;
        }
        match outcome {
            FetchOutcome::Completed { bytes, end, .. } => {
                if let Some(e) = st.encrypted.iter_mut().find(|e| e.id == id) {
                    e.complete = true;
                } else if let Some(p) = st.pending.iter_mut().find(|p| p.id == id) {
                    if p.len.is_none() {
                        let _ = p.res.set_len(end.min(bytes.max(end)));
                        p.len = Some(p.res.covered());
                    }
                }
                st.exclusions.succeeded(variant);
                if let Piece::Segment(sequence) = piece {
                    let _ = self.events.send(HlsEvent::SegmentFetched {
                        variant,
                        sequence,
                        bytes,
                    });
                    if st.segment.is_none() {
                        st.next_seq = sequence + 1;
                    }
                }
                self.decrypt_ready(&mut st);
                self.place_ready(&mut st);
            }
            FetchOutcome::Failed(e)
                if e.is_resource_changed() && self.discard_changed(&mut st, id) =>
            {
                tracing::info!(error = %e, "a partly cached piece changed on the server: fetching it again");
                let _ = self.events.send(HlsEvent::VersionChanged { reason: e });
                self.forget_from(&mut st, id);
            }
            FetchOutcome::Failed(e) => {
                // The piece and what follows it are fetched again (from another variant).
                self.forget_from(&mut st, id);
                self.variant_failed(&mut st, variant, e);
            }
            _ => {}
        }
        st.wake();
    }

    /// Forgets the pending piece `id` and every piece queued after it, so they are chosen and
    /// fetched again; the variant of what remains queued (or placed) is the current one.
    fn forget_from(&self, st: &mut State, id: u64) {
        st.pending.retain(|p| p.id < id);
        st.encrypted.retain(|p| p.id < id);
        let placed = self.layout.lock().entries.last().map(|e| e.variant);
        st.last_variant = st.pending.back().map(|p| p.variant).or(placed);
        st.last_init = None;
    }

    pub(super) fn playlist_loaded(&self, variant: usize, r: kithara_stream::Result<Body>) {
        let mut st = self.lock();
        st.loading.retain(|&v| v != variant);
        let parsed =
            r.and_then(|b| parse_media(&b.bytes, &b.url, &self.options).map_err(Error::protocol));
        match parsed {
            Ok(p) => {
                let changed = st.set.install(variant, p);
                if changed {
                    st.unchanged_reloads = 0;
                } else {
                    st.unchanged_reloads += 1;
                }
                let _ = self
                    .events
                    .send(HlsEvent::PlaylistReloaded { variant, changed });
                self.publish_timing(&st, variant);
            }
            Err(e) => self.variant_failed(&mut st, variant, e),
        }
        st.wake();
    }

    /// Hands the played variant's segment times to the source, for seeks by time.
    pub(crate) fn publish_timing(&self, st: &State, variant: usize) {
        if let Some(p) = st.set.playlist(variant) {
            let mut layout = self.layout.lock();
            layout.timing = timing(p);
        }
    }
}

pub(crate) fn timing(p: &MediaPlaylist) -> Vec<SegmentTime> {
    p.segments
        .iter()
        .map(|s| SegmentTime {
            sequence: s.sequence,
            start: s.start,
            duration: s.duration,
        })
        .collect()
}
