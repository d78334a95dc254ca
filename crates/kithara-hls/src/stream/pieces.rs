//! The fetches of an HLS stream's pieces: a segment with its init section and key alongside it,
//! and playlists. Each piece gets its own storage and a pending place in the layout.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use kithara_stream::{
    dl::{FetchCmd, FetchPurpose, Priority},
    BoundaryKind, Error, MediaInfo,
};
use url::Url;

use kithara_storage::StorageResource;

use super::{
    abandon::InFlight,
    encrypted::Encrypted,
    fetch::{body_cmd, Body},
    layout::Piece,
    peer::HlsPeer,
    segment_cache::usable,
    shared::{Pending, State},
    HlsEvent,
};
use crate::{
    keys::{KeyLookup, KeyState, KEY_LEN},
    playlist::{Segment, SegmentId},
};

impl HlsPeer {
    pub(super) fn next_id(st: &mut State) -> u64 {
        st.next_id += 1;
        st.next_id
    }

    /// A fetch of `variant`'s media playlist, unless one is running.
    pub(super) fn playlist_cmd(&self, st: &mut State, variant: usize) -> Option<FetchCmd> {
        if st.loading.contains(&variant) {
            return None;
        }
        let url = st.set.url(variant)?.clone();
        st.loading.push(variant);
        let shared = self.shared.clone();
        let vod = !st.started_live && !st.set.is_live();
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
        let mut cmds = Vec::new();
        let info = st.set.media_info(variant);
        let switch = st.last_variant.is_some_and(|v| v != variant);
        let mut boundary = if switch {
            Some((BoundaryKind::VariantSwitch, Some(info)))
        } else if seg.discontinuity && st.last_variant.is_some() {
            Some((BoundaryKind::Discontinuity, Some(info)))
        } else if st.last_variant.is_none() {
            Some((BoundaryKind::Init, Some(info)))
        } else {
            None
        };
        let time = if live || st.started_live {
            self.shared.layout.lock().end_time().unwrap_or_default()
        } else {
            seg.start
        };
        if let Some(init) = &seg.init {
            let key = (init.url.clone(), init.byte_range.clone());
            if st.last_init.as_ref() != Some(&key) {
                st.last_init = Some(key);
                let id = Self::next_id(st);
                if let Some(cmd) = self.piece_cmd(
                    st,
                    id,
                    variant,
                    Piece::Init,
                    &init.url,
                    init.byte_range.clone(),
                    time,
                    Duration::ZERO,
                    boundary.take(),
                    None,
                ) {
                    cmds.push(cmd);
                }
            }
        }
        let mut encryption = None;
        if let Some(key) = &seg.key {
            if let KeyLookup::Fetch = st.keys.lookup(&key.uri) {
                cmds.push(self.key_cmd(&key.uri));
            }
            encryption = Some((key.uri.clone(), key.iv_for(seg.sequence)));
        }
        let id = Self::next_id(st);
        if let Some(cmd) = self.piece_cmd(
            st,
            id,
            variant,
            Piece::Segment(seg.sequence),
            &seg.url,
            seg.byte_range.clone(),
            time,
            seg.duration,
            boundary,
            encryption,
        ) {
            cmds.push(cmd);
        }
        st.last_variant = Some(variant);
        cmds
    }

    pub(super) fn key_cmd(&self, uri: &Url) -> FetchCmd {
        let shared = self.shared.clone();
        let key_uri = uri.clone();
        body_cmd(
            uri.clone(),
            self.shared.headers.clone(),
            1024,
            FetchPurpose::Key,
            self.shared.cancel.child_token(),
            move |r| {
                let mut st = shared.lock();
                let body = r.map(|b: Body| b.bytes);
                let _ = st
                    .keys
                    .complete(&key_uri, body.as_deref().map_err(Clone::clone));
                shared.decrypt_ready(&mut st);
                st.wake();
            },
        )
    }

    /// One piece's fetch: a pending entry, and the command that fills its storage.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn piece_cmd(
        &self,
        st: &mut State,
        id: u64,
        variant: usize,
        piece: Piece,
        url: &Url,
        range: Option<std::ops::Range<u64>>,
        time: Duration,
        duration: Duration,
        boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
        encryption: Option<(Url, [u8; KEY_LEN])>,
    ) -> Option<FetchCmd> {
        let sid = SegmentId::new(url.clone(), range.clone());
        let existing = st.store.get(&sid).filter(|r| usable(r)).cloned();
        if let Some(res) = existing.clone().filter(|r| r.is_complete()) {
            // Fetched already (an earlier run, or an earlier session through the persistent
            // cache): laid out again without a request.
            tracing::debug!(%sid, "reusing a fetched piece");
            if self.shared.playlists.cache.is_some() {
                let _ = self.shared.events.send(HlsEvent::FromCache {
                    variant,
                    sequence: match piece {
                        Piece::Segment(seq) => Some(seq),
                        Piece::Init => None,
                    },
                    bytes: res.len().unwrap_or(0),
                });
            }
            st.pending.push_back(Pending {
                id,
                variant,
                piece,
                sid,
                len: res.len(),
                res,
                time,
                duration,
                boundary,
            });
            if let Piece::Segment(seq) = piece {
                st.next_seq = seq + 1;
            }
            self.shared.place_ready(st);
            st.wake();
            return None;
        }
        let encrypted = encryption.is_some();
        // With a persistent cache: the ciphertext of an encrypted segment goes to its asset, the
        // plaintext to memory; a clear piece is its asset, resumed where an earlier session stopped.
        let cipher = st
            .cipher
            .get(&sid)
            .filter(|r| encrypted && usable(r) && !r.is_complete())
            .map(|r| (sid.clone(), r.clone()));
        let resumed = existing.filter(|r| !encrypted && r.asset().is_some());
        let created = match (&resumed, &cipher) {
            (Some(r), _) => Ok(r.clone()),
            (None, Some(_)) => Ok(StorageResource::memory()),
            (None, None) => self.shared.storage.create(),
        };
        let res = match created {
            Ok(r) => r,
            Err(e) => {
                self.shared.fail(st, Error::from(e));
                return None;
            }
        };
        if !st.started_live {
            st.store.insert(sid.clone(), res.clone());
        }
        let key_uri_w = encryption
            .as_ref()
            .map(|(u, _)| u.clone())
            .unwrap_or_else(|| url.clone());
        // A byte range tells the exact length of a clear piece before any request, and so does
        // a cached copy.
        let known = range
            .as_ref()
            .map(|r| r.end - r.start)
            .or_else(|| res.len())
            .filter(|_| !encrypted);
        if let Some(len) = known {
            let _ = res.set_len(len);
        }
        // Bytes an earlier session cached are not fetched again. Such a piece is placed only once
        // the server confirmed its version: a changed one is dropped before anyone reads it.
        let done = res.contiguous_end(0).unwrap_or(0);
        let place_now = known.filter(|_| done == 0);
        st.pending.push_back(Pending {
            id,
            variant,
            piece,
            sid,
            res: res.clone(),
            len: place_now,
            time,
            duration,
            boundary,
        });
        let cipher_w = cipher.as_ref().map(|(_, r)| r.clone());
        if let Some((key_uri, iv)) = encryption {
            st.encrypted
                .push(Encrypted::new(id, key_uri, iv, res.clone(), cipher));
        }
        let token = self.shared.cancel.child_token();
        let loaded = Arc::new(AtomicU64::new(0));
        let guess = st.set.bitrates().get(variant).copied().unwrap_or(0)
            * duration.as_millis() as u64
            / 8000;
        let expected = Arc::new(AtomicU64::new(known.unwrap_or(guess)));
        if let Piece::Segment(sequence) = piece {
            st.segment = Some(InFlight {
                id,
                variant,
                sequence,
                token: token.clone(),
                started: Instant::now(),
                loaded: loaded.clone(),
                expected: expected.clone(),
                duration,
            });
        }
        let base = range.as_ref().map_or(0, |r| r.start);
        let range_len = range.as_ref().map(|r| r.end - r.start);
        let (validated, res_v) = (cipher_w.clone().unwrap_or_else(|| res.clone()), res.clone());
        let cipher_r = cipher_w.clone();
        let (on_resp, on_write, on_done) = (
            self.shared.clone(),
            self.shared.clone(),
            self.shared.clone(),
        );
        let priority = self.shared.priority.apply(if self.buffer().is_zero() {
            Priority::Urgent
        } else {
            Priority::Normal
        });
        let mut cmd = FetchCmd::get(url.clone())
            .with_headers(self.shared.headers.clone())
            .with_priority(priority)
            .with_purpose(if piece == Piece::Init {
                FetchPurpose::Other
            } else {
                FetchPurpose::Media
            })
            .writer_blocks(
                res.writes_block() || cipher_w.as_ref().is_some_and(|c| c.writes_block()),
            )
            .with_cancel(token)
            .on_response(move |info| {
                if let Some(v) = info
                    .validator
                    .clone()
                    .filter(|_| validated.asset().is_some())
                {
                    // Kept with a cached copy, for resuming it.
                    let _ = validated.set_validator(v);
                }
                if let Some(total) = info
                    .total_len
                    .filter(|_| known.is_none() && info.status == 200)
                {
                    expected.store(total, Ordering::Release);
                }
                if let Some(c) = &cipher_r {
                    let whole = range_len.or(info.total_len.filter(|_| info.status == 200));
                    if let Some(len) = whole {
                        let _ = c.set_len(len);
                    }
                }
                if !encrypted && place_now.is_none() {
                    // A resumed piece's length is known (and now confirmed); else only a whole
                    // resource gets here without a length: its total is the piece's length.
                    if let Some(len) = known.or(info.total_len) {
                        on_resp.set_len(id, len);
                    }
                }
                Ok(())
            })
            .writer(move |offset, data| {
                loaded.fetch_add(data.len() as u64, Ordering::AcqRel);
                let local = offset - base;
                if let Some(c) = &cipher_w {
                    c.write_bytes(local, data.clone())?;
                }
                if encrypted {
                    // Decrypted here, as the chunks arrive, once the key is known.
                    let mut guard = on_write.lock();
                    let st = &mut *guard;
                    let key = match st.keys.state(&key_uri_w) {
                        Some(KeyState::Ready(k)) => Some(*k),
                        _ => None,
                    };
                    if let Some(e) = st.encrypted.iter_mut().find(|e| e.id == id) {
                        e.feed(key.as_ref(), &data)?;
                    }
                    return Ok(());
                }
                res.write_bytes(local, data)?;
                Ok(())
            })
            .on_complete(move |outcome| on_done.piece_done(id, variant, piece, outcome));
        match range {
            Some(r) if done > 0 => {
                cmd = cmd
                    .with_range(r.start + done..r.end)
                    .with_validator(res_v.validator());
            }
            Some(r) => cmd = cmd.with_range(r),
            None if done > 0 => {
                tracing::debug!(url = %kithara_stream::redact_url(url), from = done,
                    "resuming a cached piece");
                cmd = cmd
                    .with_range(done..)
                    .with_validator(res_v.validator())
                    .with_expected_len(res_v.len());
            }
            None => {}
        }
        Some(cmd)
    }
}
