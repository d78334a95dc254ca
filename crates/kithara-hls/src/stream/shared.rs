//! The state an HLS stream's peer shares with its commands' callbacks: the planner (what is in
//! flight, what waits to be placed, keys, exclusions, playlists loading), the variant set, the ABR
//! policy and the I/O handles (stored pieces, pins); and what happens when a piece, a key or a
//! playlist arrives or fails.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, Instant},
};

use http::HeaderMap;
use kithara_storage::{StorageKind, StorageResource};
use kithara_stream::{
    dl::{FetchOutcome, PriorityHandle},
    Error, Timeline,
};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{
    abr_control::AbrShared,
    encrypted::Encrypted,
    fetch::Body,
    layout::{Entry, Layout, Piece},
    planner::{Planner, Progress},
    playlist_cache::PlaylistLoader,
    variants::VariantSet,
    HlsEvent,
};
use crate::{
    abr::AbrPolicy,
    keys::KeyState,
    playlist::{parse_media, ParseOptions, SegmentId},
};

/// How much media behind the reader a live stream keeps.
pub(super) const LIVE_RETENTION: Duration = Duration::from_secs(60);

/// What the peer keeps with a piece until it is placed: its identity, its storage, and for an
/// AES-128 segment the decryption in progress.
pub(super) struct Stored {
    /// The piece's identity (URL and byte range).
    pub(super) sid: SegmentId,
    pub(super) res: StorageResource,
    pub(super) encrypted: Option<Encrypted>,
}

/// The peer's handle on the segment in flight.
#[derive(Debug)]
pub(super) struct FlightIo {
    pub(super) token: CancellationToken,
    /// Body bytes received so far (updated by the writer).
    pub(super) loaded: Arc<AtomicU64>,
    /// Expected size: from the response, or bitrate × duration before it.
    pub(super) expected: Arc<AtomicU64>,
    /// The command's priority, raised once the reader has nothing left to read before it.
    pub(super) priority: Option<PriorityHandle>,
}

impl FlightIo {
    pub(super) fn progress(&self) -> Progress {
        Progress {
            loaded: self.loaded.load(Ordering::Acquire),
            expected: self.expected.load(Ordering::Acquire),
        }
    }
}

pub(crate) struct State {
    /// What is fetched and in which order it is placed.
    pub(super) planner: Planner<Stored, FlightIo>,
    pub(super) policy: Box<dyn AbrPolicy>,
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
    pub(crate) fn new(
        set: VariantSet,
        start_seq: u64,
        first: usize,
        policy: Box<dyn AbrPolicy>,
    ) -> Self {
        Self {
            planner: Planner::new(start_seq, first).with_set(set),
            policy,
            store: HashMap::new(),
            cipher: HashMap::new(),
            pins: Vec::new(),
            opening: false,
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Places every queued piece the planner answers is ready, in order, and ends the layout when
    /// the planner has ordered the run's last piece and every queued piece is placed.
    pub(super) fn place_ready(&self, st: &mut State) {
        for p in st.planner.ready() {
            let slot = p.slot;
            let entry = Entry {
                start: 0,
                len: p.len,
                res: p.payload.res,
                variant: slot.variant,
                piece: slot.piece,
                time: slot.time,
                duration: slot.duration,
                init: None,
            };
            let kind = slot.boundary.as_ref().map(|(k, _)| *k);
            if let Some(pos) = self.layout.place(entry, slot.needs_init, slot.boundary) {
                st.planner.placed(kind, pos);
                self.forward(st);
            }
        }
        // Nothing more will be queued and nothing queued is left: the reader may meet the end
        // (not before: a reader at the end of what is placed would take it for the stream's).
        if st.planner.is_done() && !self.layout.lock().ended {
            self.layout.end_of_stream();
        }
    }

    /// The exact length of queued piece `id` is known: it goes to its storage and the planner.
    pub(super) fn length_known(&self, st: &mut State, id: u64, len: u64) {
        if st.planner.length_known(id, len) {
            if let Some(q) = st.planner.queued(id) {
                let _ = q.payload.res.set_len(len);
            }
        }
    }

    pub(super) fn set_len(&self, id: u64, len: u64) {
        let mut st = self.lock();
        self.length_known(&mut st, id, len);
        self.place_ready(&mut st);
        self.layout.wake_peer();
    }

    /// The whole stream fails with `e`.
    pub(super) fn fail(&self, st: &mut State, e: Error) {
        if self.layout.fail(e.clone()) {
            // Cached ciphertext waiting for a key is of no use any more: release its assets.
            st.cipher.clear();
            tracing::error!(error = %e, "HLS stream failed");
            st.planner.failed(e);
            self.forward(st);
        }
        self.layout.wake_peer();
    }

    /// A segment (or its variant's playlist) failed: exclude the variant and fetch the same
    /// segment elsewhere, or fail the stream when no variant is left.
    pub(super) fn variant_failed(&self, st: &mut State, variant: usize, e: Error) {
        let now = Instant::now();
        let ladder = st.planner.variants().bitrates();
        let failover = st.planner.exclude(variant, e.clone(), &ladder, now);
        self.forward(st);
        match failover {
            Some(v) => {
                tracing::warn!(from = variant, to = v, error = %e, "variant failed over");
                self.layout.wake_peer();
            }
            None => self.fail(st, e),
        }
    }

    /// Decrypts encrypted segments whose key and bytes are both there, then places them.
    pub(super) fn decrypt_ready(&self, st: &mut State) {
        let mut done = Vec::new();
        let mut failed = None;
        let (queue, keys) = st.planner.queue_with_keys();
        for q in queue {
            let Some(enc) = q.payload.encrypted.as_ref() else {
                continue;
            };
            let key = match keys.state(&enc.key_uri) {
                Some(KeyState::Ready(k)) if enc.complete => *k,
                Some(KeyState::Failed(e)) => {
                    failed.get_or_insert_with(|| Error::protocol(e.clone()));
                    q.payload.encrypted = None;
                    continue;
                }
                _ => continue,
            };
            let Some(enc) = q.payload.encrypted.take() else {
                continue;
            };
            let cipher = enc.cipher.clone();
            match enc.finish(&key) {
                Ok(len) => done.push((q.slot.id, len, cipher, key)),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        for (id, len, cipher, key) in done {
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
            self.length_known(st, id, len);
        }
        if let Some(e) = failed {
            self.fail(st, e);
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
        st.planner.fetch_ended(id);
        match outcome {
            FetchOutcome::Completed { bytes, end, .. } => {
                let len = match st.planner.queued_mut(id) {
                    Some(q) => match q.payload.encrypted.as_mut() {
                        Some(e) => {
                            e.complete = true;
                            None
                        }
                        None if q.len.is_none() => {
                            let _ = q.payload.res.set_len(end.min(bytes.max(end)));
                            Some(q.payload.res.covered())
                        }
                        None => None,
                    },
                    None => None,
                };
                if let Some(len) = len {
                    self.length_known(&mut st, id, len);
                }
                st.planner.succeeded(variant);
                if let Piece::Segment(sequence) = piece {
                    st.planner.fetched(id, variant, sequence, bytes);
                    self.forward(&mut st);
                }
                self.decrypt_ready(&mut st);
                self.place_ready(&mut st);
            }
            // A fetch given up (by a seek, a cut or the abandon rule) that failed after all: no run
            // needs it any more, and its variant is not to blame for the current one.
            FetchOutcome::Failed(e) if st.planner.is_stale(id) => {
                tracing::debug!(error = %e, id, "a piece given up failed after all");
            }
            FetchOutcome::Failed(e)
                if e.is_resource_changed() && self.discard_changed(&mut st, id) =>
            {
                tracing::info!(error = %e, "a partly cached piece changed on the server: fetching it again");
                st.planner.changed_on_server(id, e);
                self.forward(&mut st);
            }
            FetchOutcome::Failed(e) => {
                // The piece and what follows it are fetched again (from another variant); a
                // piece already laid out cannot be replaced, so a reader inside it gets `e`.
                self.layout.fail_placed(variant, piece, &e);
                st.planner.forget_from(id);
                self.variant_failed(&mut st, variant, e);
            }
            _ => {}
        }
        self.layout.wake_peer();
    }

    pub(super) fn playlist_loaded(&self, variant: usize, r: kithara_stream::Result<Body>) {
        let mut st = self.lock();
        st.planner.playlist_arrived(variant);
        let parsed =
            r.and_then(|b| parse_media(&b.bytes, &b.url, &self.options).map_err(Error::protocol));
        match parsed {
            Ok(p) => {
                st.planner.install_playlist(variant, p);
                self.forward(&mut st);
                self.publish_played(&st, variant);
            }
            Err(e) => self.variant_failed(&mut st, variant, e),
        }
        self.layout.wake_peer();
    }

    /// Forwards the planner's events to the stream's channel (the adapter decides none).
    pub(crate) fn forward(&self, st: &mut State) {
        for e in st.planner.take_events() {
            let _ = self.events.send(e);
        }
    }

    /// Hands the played variant's playlist snapshot to the layout, for seeks by time.
    pub(crate) fn publish_played(&self, st: &State, variant: usize) {
        if let Some(p) = st.planner.variants().snapshot(variant) {
            self.layout.lock().played = Some(p);
        }
    }
}
