//! The fetches of an HLS stream's pieces: a segment with its init section and key alongside it,
//! and playlists. Each piece the planner orders gets its own storage and a queued place in the
//! layout; the closures of its command only report back (length, bytes, outcome).

use std::{
    sync::{atomic::AtomicU64, Arc},
    time::Instant,
};

use kithara_storage::StorageResource;
use kithara_stream::{
    dl::{FetchCmd, FetchPurpose},
    Error,
};
use url::Url;

use super::{
    command::{FetchSpec, Target},
    encrypted::Encrypted,
    fetch::{body_cmd, Body},
    layout::Piece,
    peer::HlsPeer,
    planner::{Flight, Order},
    segment_cache::usable,
    shared::{FlightIo, State, Stored},
    HlsEvent,
};
use crate::{keys::KeyLookup, playlist::Segment};

impl HlsPeer {
    /// A fetch of `variant`'s media playlist, unless one is running.
    pub(super) fn playlist_cmd(&self, st: &mut State, variant: usize) -> Option<FetchCmd> {
        let url = st.planner.variants().url(variant)?.clone();
        if !st.planner.load_playlist(variant) {
            return None;
        }
        let shared = self.shared.clone();
        let vod = !st.planner.started_live() && !st.planner.variants().is_live();
        if let (true, true, Ok(rt)) = (
            vod,
            self.shared.playlists.cache.is_some(),
            tokio::runtime::Handle::try_current(),
        ) {
            // A VOD playlist goes through the persistent cache, in a task of its own.
            let cancel = self.shared.cancel.child_token();
            rt.spawn(async move {
                let r = shared.playlists.load(url.clone(), &cancel).await;
                if let Ok(body) = &r {
                    shared.playlists.store(&url, body);
                }
                shared.playlist_loaded(variant, r);
            });
            return None;
        }
        Some(body_cmd(
            url,
            self.shared.headers.clone(),
            self.shared.options.max_bytes,
            FetchPurpose::Index,
            self.shared.cancel.child_token(),
            move |r| shared.playlist_loaded(variant, r),
        ))
    }

    /// The commands for segment `seg` of `variant`: its init and key when needed, then itself.
    pub(super) fn segment_cmds(
        &self,
        st: &mut State,
        variant: usize,
        seg: &Segment,
        live: bool,
    ) -> Vec<FetchCmd> {
        let info = st.planner.variants().media_info(variant);
        let time = if live || st.planner.started_live() {
            self.shared.layout.lock().end_time().unwrap_or_default()
        } else {
            seg.start
        };
        let mut cmds = Vec::new();
        for order in st.planner.order(variant, seg, info, time) {
            if let Some((uri, _)) = &order.encryption {
                if let KeyLookup::Fetch = st.planner.keys_mut().lookup(uri) {
                    cmds.push(self.key_cmd(uri));
                }
            }
            if let Some(cmd) = self.piece_cmd(st, order) {
                cmds.push(cmd);
            }
        }
        cmds
    }

    pub(super) fn key_cmd(&self, uri: &Url) -> FetchCmd {
        let shared = self.shared.clone();
        let key_uri = uri.clone();
        body_cmd(
            uri.clone(),
            self.shared.headers.clone(),
            crate::keys::MAX_KEY_BYTES,
            FetchPurpose::Key,
            self.shared.cancel.child_token(),
            move |r| {
                let mut st = shared.lock();
                let body = r.map(|b: Body| b.bytes);
                let _ = st
                    .planner
                    .keys_mut()
                    .complete(&key_uri, body.as_deref().map_err(Clone::clone));
                shared.decrypt_ready(&mut st);
                shared.layout.wake_peer();
            },
        )
    }

    /// One piece's fetch: queued with the planner, and the command that fills its storage (none
    /// when the piece was fetched already).
    pub(super) fn piece_cmd(&self, st: &mut State, order: Order) -> Option<FetchCmd> {
        let existing = st.store.get(&order.sid).filter(|r| usable(r)).cloned();
        if let Some(res) = existing.clone().filter(|r| r.is_complete()) {
            self.reuse(st, order, res);
            return None;
        }
        let target = match self.target(st, &order, existing) {
            Ok(t) => t,
            Err(e) => {
                self.shared.fail(st, e);
                return None;
            }
        };
        let Order {
            slot,
            sid,
            encryption,
        } = order;
        let (id, variant, piece, duration) = (slot.id, slot.variant, slot.piece, slot.duration);
        // Placed only once the server confirmed a cached copy's version: a changed one is dropped
        // before anyone reads it.
        let place_now = target.known.filter(|_| target.done == 0);
        let encrypted = encryption.as_ref().map(|(key_uri, iv)| {
            Encrypted::new(
                key_uri.clone(),
                *iv,
                target.res.clone(),
                target.cipher.clone(),
            )
        });
        let key_uri = encryption.map(|(u, _)| u);
        st.planner.enqueue(
            slot,
            place_now,
            Stored {
                sid: sid.clone(),
                res: target.res.clone(),
                encrypted,
            },
        );
        let mut io = FlightIo {
            priority: None,
            token: self.shared.cancel.child_token(),
            loaded: Arc::new(AtomicU64::new(0)),
            expected: Arc::new(AtomicU64::new(target.known.unwrap_or_else(|| {
                let bitrate = st
                    .planner
                    .variants()
                    .bitrates()
                    .get(variant)
                    .copied()
                    .unwrap_or(0);
                bitrate.saturating_mul(duration.as_millis() as u64) / 8000
            }))),
        };
        let spec = FetchSpec {
            id,
            variant,
            piece,
            sid: &sid,
            key_uri,
            place_now,
        };
        let cmd = self.fetch_cmd(spec, &target, &io);
        io.priority = Some(cmd.priority_handle());
        if let Piece::Segment(sequence) = piece {
            st.planner.started(Flight {
                id,
                variant,
                sequence,
                started: Instant::now(),
                duration,
                handle: io,
            });
        }
        Some(cmd)
    }

    /// Queues a piece fetched already (an earlier run, or an earlier session through the
    /// persistent cache): laid out again without a request.
    fn reuse(&self, st: &mut State, order: Order, res: StorageResource) {
        tracing::debug!(sid = %order.sid, "reusing a fetched piece");
        let piece = order.slot.piece;
        if self.shared.playlists.cache.is_some() {
            let _ = self.shared.events.send(HlsEvent::FromCache {
                variant: order.slot.variant,
                sequence: match piece {
                    Piece::Segment(seq) => Some(seq),
                    Piece::Init => None,
                },
                bytes: res.len().unwrap_or(0),
            });
        }
        let len = res.len();
        st.planner.enqueue(
            order.slot,
            len,
            Stored {
                sid: order.sid,
                res,
                encrypted: None,
            },
        );
        if let Piece::Segment(seq) = piece {
            st.planner.segment_in(seq);
        }
        self.shared.place_ready(st);
        self.shared.layout.wake_peer();
    }

    /// The storage a piece is fetched into. With a persistent cache: the ciphertext of an
    /// encrypted segment goes to its asset, the plaintext to memory; a clear piece is its asset,
    /// resumed where an earlier session stopped.
    fn target(
        &self,
        st: &mut State,
        order: &Order,
        existing: Option<StorageResource>,
    ) -> Result<Target, Error> {
        let sid = &order.sid;
        let encrypted = order.encryption.is_some();
        let cipher = st
            .cipher
            .get(sid)
            .filter(|r| encrypted && usable(r) && !r.is_complete())
            .map(|r| (sid.clone(), r.clone()));
        let resumed = existing.filter(|r| !encrypted && r.asset().is_some());
        let res = match (resumed, &cipher) {
            (Some(r), _) => r,
            (None, Some(_)) => StorageResource::memory(),
            (None, None) => self.shared.storage.create()?,
        };
        if !st.planner.started_live() {
            st.store.insert(sid.clone(), res.clone());
        }
        // A byte range tells the exact length of a clear piece before any request, and so does
        // a cached copy.
        let known = sid
            .byte_range()
            .map(|r| r.end - r.start)
            .or_else(|| res.len())
            .filter(|_| !encrypted);
        if let Some(len) = known {
            let _ = res.set_len(len);
        }
        let done = res.contiguous_end(0).unwrap_or(0);
        Ok(Target {
            res,
            cipher,
            known,
            done,
        })
    }
}
