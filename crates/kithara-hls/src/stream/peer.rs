//! [`HlsPeer`]: what an HLS stream fetches next, and when.
//!
//! Segments are laid out one at a time in play order, each with what it needs alongside it in the
//! same batch (the variant's init section, its key), keeping the buffer ahead of the reader at the
//! configured target. Before each segment the ABR policy picks its variant; a switch (or a
//! discontinuity, or a seek that starts a new run) becomes a boundary. Live playlists are
//! reloaded every target duration (half of it after an unchanged reload). A segment or playlist
//! that fails after the downloader's retries excludes its variant for a while and the same
//! segment is fetched from another variant; with none left the stream fails with the error.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use http::HeaderMap;
use kithara_storage::{StorageKind, StorageResource};
use kithara_stream::{
    dl::{FetchCmd, FetchOutcome, FetchPurpose, Peer, Priority, ThroughputSample},
    redact_url, BoundaryKind, Error, MediaInfo, SignalCursor, Timeline,
};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    abr_control::AbrShared,
    fetch::{body_cmd, Body},
    layout::{Entry, Layout, Piece, SegmentTime},
    variants::VariantSet,
    HlsEvent,
};
use crate::{
    abr::{AbrContext, AbrPolicy, BufferRule, Decision, ExclusionConfig, Exclusions},
    crypto::decrypt,
    keys::{KeyCache, KeyLookup, KEY_LEN},
    playlist::{parse_media, MediaPlaylist, ParseOptions, Segment, SegmentId},
};

/// How much media behind the reader a live stream keeps.
const LIVE_RETENTION: Duration = Duration::from_secs(60);

/// A piece fetched (or being fetched) and not yet placed.
struct Pending {
    id: u64,
    variant: usize,
    piece: Piece,
    res: StorageResource,
    /// Exact plaintext length, once known.
    len: Option<u64>,
    time: Duration,
    duration: Duration,
    boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
}

/// An encrypted segment waiting for its key or its last byte.
struct Encrypted {
    id: u64,
    key_uri: Url,
    iv: [u8; KEY_LEN],
    cipher: Vec<u8>,
    complete: bool,
}

pub(crate) struct State {
    pub(crate) set: VariantSet,
    generation: u64,
    next_seq: u64,
    /// Variant and init URL of the last piece queued in this run.
    last_variant: Option<usize>,
    last_init: Option<(Url, Option<std::ops::Range<u64>>)>,
    /// The segment in flight: (pending id, variant, sequence, token).
    segment: Option<(u64, usize, u64, CancellationToken)>,
    pending: VecDeque<Pending>,
    encrypted: Vec<Encrypted>,
    keys: KeyCache,
    loading: Vec<usize>,
    policy: Box<dyn AbrPolicy>,
    exclusions: Exclusions,
    next_id: u64,
    reload_due: Option<Instant>,
    unchanged_reloads: u32,
    ended: bool,
    failed: bool,
    waker: Option<Waker>,
    /// Every piece of a VOD stream fetched so far, by URI and byte range: a piece laid out again
    /// (a seek back into media a later run already fetched) is reused without a request.
    store: HashMap<SegmentId, StorageResource>,
    /// Whether the stream started live: its times are then counted from where it started, also
    /// after `ENDLIST` appears (playlist times slide with the window).
    started_live: bool,
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
    pub(crate) options: ParseOptions,
    pub(crate) buffer_ahead: Duration,
    pub(crate) cancel: CancellationToken,
}

/// The download policy of one HLS stream; registered with the shared downloader by
/// [`Hls`](crate::Hls) when a stream opens.
pub struct HlsPeer {
    shared: Arc<Shared>,
    chunk_cursor: SignalCursor,
    reload: Option<Pin<Box<tokio::time::Sleep>>>,
    label: String,
}

impl std::fmt::Debug for HlsPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsPeer")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
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
        }
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Places every pending piece whose length is known, in order.
    fn place_ready(&self, st: &mut State) {
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
    }

    fn set_len(&self, id: u64, len: u64) {
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
    fn fail(&self, st: &mut State, e: Error) {
        if !st.failed {
            st.failed = true;
            tracing::error!(error = %e, "HLS stream failed");
            self.layout.fail(e.clone());
            let _ = self.events.send(HlsEvent::Failed(e));
        }
        st.wake();
    }

    /// A segment (or its variant's playlist) failed: exclude the variant and fetch the same
    /// segment elsewhere, or fail the stream when no variant is left.
    fn variant_failed(&self, st: &mut State, variant: usize, e: Error) {
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
    fn decrypt_ready(&self, st: &mut State) {
        let mut i = 0;
        while i < st.encrypted.len() {
            let key = match st.keys.lookup(&st.encrypted[i].key_uri) {
                KeyLookup::Ready(k) if st.encrypted[i].complete => k,
                KeyLookup::Failed(e) => {
                    let enc = st.encrypted.remove(i);
                    drop(enc);
                    self.fail(st, Error::protocol(e));
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            };
            let enc = st.encrypted.remove(i);
            match decrypt(&key, &enc.iv, &enc.cipher) {
                Ok(plain) => {
                    if let Some(p) = st.pending.iter_mut().find(|p| p.id == enc.id) {
                        let len = plain.len() as u64;
                        let _ = p.res.write_at(0, &plain);
                        let _ = p.res.set_len(len);
                        p.len = Some(len);
                    }
                }
                Err(e) => self.fail(st, Error::protocol(e)),
            }
        }
        self.place_ready(st);
    }
}

impl HlsPeer {
    pub(crate) fn new(shared: Arc<Shared>, label: String) -> Self {
        Self {
            shared,
            chunk_cursor: SignalCursor::default(),
            reload: None,
            label,
        }
    }

    fn next_id(st: &mut State) -> u64 {
        st.next_id += 1;
        st.next_id
    }

    /// Seconds of media laid out ahead of the reader.
    fn buffer(&self) -> Duration {
        let pos = self.shared.timeline.position();
        let st = self.shared.layout.lock();
        let end = st.end_time().unwrap_or_default();
        let at = st.entry_at(pos).map(|e| e.time).unwrap_or_else(|| {
            if pos >= st.end() {
                end
            } else {
                Duration::ZERO
            }
        });
        end.saturating_sub(at)
    }

    /// Takes a new run after a seek by time into account.
    fn follow_seek(&self, st: &mut State) {
        let request = {
            let mut layout = self.shared.layout.lock();
            layout.seek.take()
        };
        let Some(req) = request else { return };
        if let Some((_, _, _, token)) = st.segment.take() {
            token.cancel();
        }
        st.pending.clear();
        st.encrypted.clear();
        st.generation = req.generation;
        st.next_seq = req.sequence;
        st.last_variant = None;
        st.last_init = None;
        st.ended = false;
        tracing::debug!(sequence = req.sequence, "new run after a seek by time");
    }

    /// The variant for the next segment.
    fn choose(&self, st: &mut State, segment: Duration) -> Option<Decision> {
        let now = Instant::now();
        let ladder = st.set.bitrates();
        let mask = st.exclusions.mask(now);
        let current = st.last_variant.unwrap_or_else(|| self.shared.abr.current());
        let ctx = AbrContext::new(&ladder, current, self.buffer(), segment)
            .buffer_target(self.shared.buffer_ahead)
            .mode(kithara_stream::AbrControl::mode(&*self.shared.abr))
            .max_bitrate(self.shared.abr.max_bitrate())
            .excluded(&mask);
        st.policy.decide(&ctx)
    }

    fn playlist_cmd(&self, st: &mut State, variant: usize) -> Option<FetchCmd> {
        if st.loading.contains(&variant) {
            return None;
        }
        let url = st.set.url(variant)?.clone();
        st.loading.push(variant);
        let shared = self.shared.clone();
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
    fn segment_cmds(
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

    fn key_cmd(&self, uri: &Url) -> FetchCmd {
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
    fn piece_cmd(
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
        if let Some(res) = st.store.get(&sid).filter(|r| r.is_complete()).cloned() {
            // Fetched already (an earlier run): laid out again without a request.
            tracing::debug!(%sid, "reusing a fetched piece");
            st.pending.push_back(Pending {
                id,
                variant,
                piece,
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
        let res = match self.shared.storage.create() {
            Ok(r) => r,
            Err(e) => {
                self.shared.fail(st, Error::from(e));
                return None;
            }
        };
        if !st.started_live {
            st.store.insert(sid, res.clone());
        }
        let encrypted = encryption.is_some();
        // A byte range tells the exact length of a clear piece before any request.
        let known = range
            .as_ref()
            .map(|r| r.end - r.start)
            .filter(|_| !encrypted);
        if let Some(len) = known {
            let _ = res.set_len(len);
        }
        st.pending.push_back(Pending {
            id,
            variant,
            piece,
            res: res.clone(),
            len: known,
            time,
            duration,
            boundary,
        });
        if let Some((key_uri, iv)) = encryption {
            st.encrypted.push(Encrypted {
                id,
                key_uri,
                iv,
                cipher: Vec::new(),
                complete: false,
            });
        }
        let token = self.shared.cancel.child_token();
        if let Piece::Segment(seq) = piece {
            st.segment = Some((id, variant, seq, token.clone()));
        }
        let base = range.as_ref().map_or(0, |r| r.start);
        let (on_resp, on_write, on_done) = (
            self.shared.clone(),
            self.shared.clone(),
            self.shared.clone(),
        );
        let priority = if self.buffer().is_zero() {
            Priority::Urgent
        } else {
            Priority::Normal
        };
        let mut cmd = FetchCmd::get(url.clone())
            .with_headers(self.shared.headers.clone())
            .with_priority(priority)
            .with_purpose(if piece == Piece::Init {
                FetchPurpose::Other
            } else {
                FetchPurpose::Media
            })
            .writer_blocks(res.writes_block())
            .with_cancel(token)
            .on_response(move |info| {
                if !encrypted {
                    if let Some(total) = info.total_len {
                        let len = if range_given(base, total, info.status) {
                            total - base
                        } else {
                            total
                        };
                        if known.is_none() {
                            on_resp.set_len(id, len);
                        }
                    }
                }
                Ok(())
            })
            .writer(move |offset, data| {
                let local = offset - base;
                if encrypted {
                    let mut st = on_write.lock();
                    if let Some(e) = st.encrypted.iter_mut().find(|e| e.id == id) {
                        e.cipher.extend_from_slice(&data);
                    }
                    return Ok(());
                }
                res.write_bytes(local, data)?;
                Ok(())
            })
            .on_complete(move |outcome| on_done.piece_done(id, variant, piece, outcome));
        if let Some(r) = range {
            cmd = cmd.with_range(r);
        }
        Some(cmd)
    }
}

/// Whether `total` (a response's total) is the resource's, so a piece's length is `total - base`.
fn range_given(base: u64, total: u64, status: u16) -> bool {
    status == 206 && base < total
}

impl Shared {
    fn piece_done(&self, id: u64, variant: usize, piece: Piece, outcome: FetchOutcome) {
        let mut st = self.lock();
        if st.segment.as_ref().is_some_and(|s| s.0 == id) {
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
            FetchOutcome::Failed(e) => {
                // The piece and what follows it are fetched again (from another variant).
                st.pending.retain(|p| p.id < id);
                st.encrypted.retain(|p| p.id < id);
                let placed = self.layout.lock().entries.last().map(|e| e.variant);
                st.last_variant = st.pending.back().map(|p| p.variant).or(placed);
                st.last_init = None;
                self.variant_failed(&mut st, variant, e);
            }
            _ => {}
        }
        st.wake();
    }

    fn playlist_loaded(&self, variant: usize, r: kithara_stream::Result<Body>) {
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

impl Peer for HlsPeer {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        let shared = self.shared.clone();
        {
            let mut layout = shared.layout.lock();
            layout.peer_waker = Some(cx.waker().clone());
        }
        let mut st = shared.lock();
        st.waker = Some(cx.waker().clone());
        if st.failed || shared.cancel.is_cancelled() {
            return Poll::Ready(None);
        }
        self.follow_seek(&mut st);
        let mut cmds = Vec::new();
        let live = st.set.is_live();
        // Live: reload the playlist being played when due.
        if live {
            let due = *st.reload_due.get_or_insert_with(Instant::now);
            if Instant::now() >= due {
                let variant = st.last_variant.unwrap_or_else(|| shared.abr.current());
                let target = st.set.target_duration(variant);
                let every = if st.unchanged_reloads > 0 {
                    target / 2
                } else {
                    target
                };
                st.reload_due = Some(Instant::now() + every.max(Duration::from_millis(100)));
                if let Some(cmd) = self.playlist_cmd(&mut st, variant) {
                    cmds.push(cmd);
                }
            }
            if let Some(due) = st.reload_due {
                let sleep = self
                    .reload
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due.into())));
                sleep.as_mut().reset(due.into());
                if sleep.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
            }
        }
        if st.segment.is_none() && !st.ended {
            self.next_segment(&mut st, live, &mut cmds);
        }
        if live {
            if let Some(now) = shared.timeline.time_at(shared.timeline.position()) {
                shared
                    .layout
                    .release_before(now.saturating_sub(LIVE_RETENTION), LIVE_RETENTION);
            }
        }
        // Woken again when the reader moves (the buffer drains).
        while shared
            .timeline
            .hooks()
            .chunk
            .poll_changed(cx, &mut self.chunk_cursor)
            .is_ready()
        {}
        if cmds.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Some(cmds))
        }
    }

    fn cancel_token(&self) -> CancellationToken {
        self.shared.cancel.clone()
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn on_throughput(&mut self, sample: ThroughputSample) {
        if sample.purpose == FetchPurpose::Media {
            self.shared.lock().policy.on_sample(&sample);
        }
    }
}

impl HlsPeer {
    fn next_segment(&self, st: &mut State, live: bool, cmds: &mut Vec<FetchCmd>) {
        if self.buffer() >= self.shared.buffer_ahead {
            return;
        }
        let segment_len = st.set.target_duration(st.last_variant.unwrap_or(0));
        let Some(decision) = self.choose(st, segment_len) else {
            return;
        };
        let variant = decision.variant;
        if st.set.playlist(variant).is_none() {
            if let Some(cmd) = self.playlist_cmd(st, variant) {
                cmds.push(cmd);
            }
            return;
        }
        let Some(playlist) = st.set.playlist(variant).cloned() else {
            return;
        };
        let first = playlist.media_sequence;
        if st.next_seq < first {
            let _ = self.shared.events.send(HlsEvent::SegmentsSkipped {
                from: st.next_seq,
                to: first,
            });
            st.next_seq = first;
            // What follows does not continue what was laid out.
            st.last_init = None;
        }
        let Some(seg) = playlist.segment_by_sequence(st.next_seq).cloned() else {
            if playlist.end_list {
                st.ended = true;
                let _ = self.shared.events.send(HlsEvent::Ended);
                self.shared.layout.end_of_stream();
            }
            return;
        };
        let previous = st.last_variant;
        if let Some(from) = previous.filter(|&v| v != variant) {
            let _ = self.shared.events.send(HlsEvent::VariantSwitch {
                from,
                to: variant,
                reason: decision.reason,
                buffer: self.buffer(),
            });
        }
        self.shared.abr.set_current(variant);
        self.shared.publish_timing(st, variant);
        let _ = live;
        cmds.extend(self.segment_cmds(st, variant, &seg, live));
    }
}

pub(crate) fn label(url: &Url) -> String {
    redact_url(url).to_string()
}

pub(crate) fn default_policy() -> Box<dyn AbrPolicy> {
    Box::new(BufferRule::default())
}
