//! The virtual byte space of an HLS stream: what the reader plays, laid out in play order.
//!
//! Pieces (init sections and segments) are placed one after the other at the end of the layout,
//! each once its exact plaintext length is known: from `BYTERANGE` or `Content-Length` for clear
//! segments (so the reader can start while the rest downloads), on completion for AES ones. An
//! offset handed out never changes meaning. Boundaries mark where the codec set-up may change
//! (an init, a variant switch, a discontinuity, a seek jump). A placed piece and its boundary are
//! final: nothing is ever taken back. A seek by time to media that is not laid out starts a new
//! run at the end of the layout; until the peer has taken the request, nothing is placed, so
//! pieces still in flight for the old run never are.
//!
//! The reader (the source, on its own thread) waits on a condition variable that every change
//! wakes; the peer is woken through its task waker.

use std::{
    ops::Range,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    task::Waker,
    time::Duration,
};

use kithara_storage::StorageResource;
use kithara_stream::{Boundary, BoundaryKind, Error, MediaInfo, TimeMap};

use crate::playlist::MediaPlaylist;

/// What a placed piece is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// An init section (`EXT-X-MAP`) of a variant.
    Init,
    /// The segment with this media sequence number.
    Segment(u64),
}

/// One placed piece.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) start: u64,
    pub(crate) len: u64,
    pub(crate) res: StorageResource,
    pub(crate) variant: usize,
    pub(crate) piece: Piece,
    /// Media time at the piece's start, and how much it holds (zero for an init).
    pub(crate) time: Duration,
    pub(crate) duration: Duration,
    /// Where the init section the piece's bytes need lies in the byte space (its own range for an
    /// init), if they need one.
    pub(crate) init: Option<Range<u64>>,
}

impl Entry {
    pub(crate) fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// A request from the reader to the peer: lay out from this segment on, in a new run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SeekRequest {
    pub(crate) sequence: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) entries: Vec<Entry>,
    pub(crate) boundaries: Vec<Boundary>,
    /// No more pieces will come (VOD laid out to the end, or live after `ENDLIST`).
    pub(crate) ended: bool,
    pub(crate) failed: Option<Error>,
    pub(crate) cancelled: bool,
    /// A new run the reader asked for that the peer has not taken yet: nothing is placed until
    /// it has (what arrives meanwhile belongs to the old run).
    pub(crate) seek: Option<SeekRequest>,
    /// The seek-jump boundary of a new run, placed with the run's first piece (so that it is
    /// complete, with the facts and init section after it, when anyone sees it).
    pub(crate) jump: Option<Boundary>,
    /// How far the reader could have seen: bytes read or waited for, boundaries and lengths
    /// answered. Nothing before it ever changes; a "switch now" cuts only what lies after it.
    pub(crate) seen: u64,
    /// What a "switch now" cut, for the peer to take: nothing is placed until it has (what
    /// arrives meanwhile was ordered before the switch).
    pub(crate) switch: Option<Cut>,
    pub(crate) peer_waker: Option<Waker>,
    /// The media playlist of the variant being fetched, for seeks by time: the variant set's
    /// snapshot itself (shared, swapped when the peer orders from another variant or a reload
    /// replaces it, never edited), not a copy of its segment times.
    pub(crate) played: Option<Arc<MediaPlaylist>>,
}

impl State {
    pub(crate) fn end(&self) -> u64 {
        self.entries.last().map_or(0, Entry::end)
    }

    /// The entry holding byte `pos`.
    pub(crate) fn entry_at(&self, pos: u64) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.end() <= pos);
        self.entries.get(i).filter(|e| e.start <= pos)
    }

    /// Where the current run starts: the last seek jump, or 0. Entries before it belong to runs
    /// a seek cut short, whose continuation is not what follows them in the layout.
    pub(crate) fn current_run_start(&self) -> u64 {
        self.jump
            .as_ref()
            .or_else(|| {
                self.boundaries
                    .iter()
                    .rev()
                    .find(|b| b.kind == BoundaryKind::SeekJump)
            })
            .map_or(0, |b| b.pos)
    }

    /// Where the init section that a piece of `variant` placed at `pos` needs lies: the latest
    /// init of that variant placed before it (segments of a variant without `EXT-X-MAP` never
    /// follow one).
    pub(crate) fn init_before(&self, pos: u64, variant: usize) -> Option<Range<u64>> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.piece == Piece::Init && e.variant == variant && e.start < pos)
            .map(|e| e.start..e.end())
    }

    /// Media time at the end of the layout.
    pub(crate) fn end_time(&self) -> Option<Duration> {
        self.entries.last().map(|e| e.time + e.duration)
    }

    /// The init section the next piece (of `variant`) needs, if it needs one: its own range for
    /// an init section, else the latest of its variant placed before it.
    fn init_for(
        &self,
        piece: Piece,
        variant: usize,
        len: u64,
        needs_init: bool,
    ) -> Option<Range<u64>> {
        let start = self.end();
        match piece {
            Piece::Init => Some(start..start + len),
            Piece::Segment(_) if needs_init => self.init_before(start, variant),
            Piece::Segment(_) => None,
        }
    }

    /// The segment of the current run holding media time `t`, if laid out (and not released).
    /// Seeks by time and the timeline's time→byte map both ask this.
    pub(crate) fn segment_at(&self, t: Duration) -> Option<&Entry> {
        let run_start = self.current_run_start();
        self.entries
            .iter()
            .filter(|e| e.start >= run_start)
            .filter(|e| matches!(e.piece, Piece::Segment(_)) && e.res.failure().is_none())
            .find(|e| e.time <= t && t < e.time + e.duration)
    }

    /// Starts a new run at the end of the layout, from segment `sequence` (at media time `time`):
    /// the peer takes the request, and the run's first piece goes behind a seek-jump boundary.
    /// Returns where the run starts.
    pub(crate) fn start_run(&mut self, sequence: u64, time: Duration) -> u64 {
        let pos = self.end();
        self.seek = Some(SeekRequest { sequence });
        self.jump = Some(Boundary::new(pos, BoundaryKind::SeekJump).with_time(time));
        self.ended = false;
        pos
    }

    /// The reader could have seen everything before `pos`.
    pub(crate) fn see(&mut self, pos: u64) {
        self.seen = self.seen.max(pos);
    }

    /// The first boundary at or after `from`.
    pub(crate) fn next_boundary(&self, from: u64) -> Option<&Boundary> {
        let i = self.boundaries.partition_point(|b| b.pos < from);
        self.boundaries.get(i)
    }

    /// The variant of the byte at `pos` (the one heard when the reader is there).
    pub(crate) fn variant_at(&self, pos: u64) -> Option<usize> {
        self.entry_at(pos)
            .or_else(|| self.entries.last().filter(|e| e.end() == pos))
            .map(|e| e.variant)
    }
}

/// The shared layout. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Layout {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn condvar(&self) -> &Condvar {
        &self.inner.1
    }

    /// Wakes the peer (after a change of its own state that it must act on).
    pub(crate) fn wake_peer(&self) {
        let waker = self.lock().peer_waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes the reader and the peer after a change.
    pub(crate) fn changed(&self, mut st: MutexGuard<'_, State>) {
        let waker = st.peer_waker.take();
        drop(st);
        self.inner.1.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Places a piece at the end of the layout, with the boundary that precedes it, unless a new
    /// run is waiting to be taken (the piece belongs to the old one) or the stream is cancelled.
    /// `needs_init`: the piece's bytes need the latest init section placed. Returns where it
    /// starts.
    pub(crate) fn place(
        &self,
        mut entry: Entry,
        needs_init: bool,
        boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
    ) -> Option<u64> {
        let mut st = self.lock();
        if st.seek.is_some() || st.switch.is_some() || st.cancelled {
            return None;
        }
        entry.init = st.init_for(entry.piece, entry.variant, entry.len, needs_init);
        entry.start = st.end();
        let start = entry.start;
        // The first piece of a run after a seek goes behind the seek jump, which keeps its kind
        // and time.
        let (kind, time) = match st.jump.take() {
            Some(j) => (Some(BoundaryKind::SeekJump), j.time),
            None => (boundary.as_ref().map(|b| b.0), Some(entry.time)),
        };
        if let Some(kind) = kind {
            let mut b = Boundary::new(start, kind)
                .with_media_info(boundary.and_then(|b| b.1))
                .with_init(entry.init.clone());
            b.time = time;
            st.boundaries.push(b);
        }
        tracing::debug!(start, len = entry.len, piece = ?entry.piece, variant = entry.variant, "placed");
        st.entries.push(entry);
        self.changed(st);
        Some(start)
    }

    /// Releases the storage of pieces that end before media time `before` (live streams keep
    /// bounded storage); reading them afterwards fails with [`crate::Error::Released`].
    pub(crate) fn release_before(&self, before: Duration, retention: Duration) {
        let mut st = self.lock();
        for e in st.entries.iter_mut() {
            if e.time + e.duration >= before {
                break;
            }
            if e.res.failure().is_none() {
                // Dropping the old resource closes its file, if it had one.
                e.res.cancel();
                let gone = StorageResource::memory();
                gone.fail(Arc::new(Error::protocol(crate::Error::Released {
                    pos: e.start,
                    retention,
                })));
                e.res = gone;
            }
        }
    }

    /// The stream fails with `e`; returns `false` if it had failed already (the first error
    /// stays). Placed pieces whose bytes are still coming fail too, so a reader waiting inside
    /// one gets `e` rather than waiting out its timeout (bytes already there stay readable).
    pub(crate) fn fail(&self, e: Error) -> bool {
        let mut st = self.lock();
        let first = st.failed.is_none();
        if first {
            let shared: kithara_stream::SharedError = Arc::new(e.clone());
            for entry in &st.entries {
                entry.res.fail(shared.clone());
            }
            st.failed = Some(e);
        }
        self.changed(st);
        first
    }

    /// The fetch of placed piece `piece` of `variant` failed for good: its storage fails with
    /// `e`, so a reader waiting inside it gets `e` at once. (The same segment fetched from another
    /// variant cannot take the place of a piece already laid out.)
    pub(crate) fn fail_placed(&self, variant: usize, piece: Piece, e: &Error) {
        let st = self.lock();
        let placed = st
            .entries
            .iter()
            .filter(|en| en.variant == variant && en.piece == piece && !en.res.is_complete());
        for en in placed {
            en.res.fail(Arc::new(e.clone()));
        }
        self.changed(st);
    }

    /// Whether the stream failed.
    pub(crate) fn is_failed(&self) -> bool {
        self.lock().failed.is_some()
    }

    /// No more pieces will come in the current run; ignored while a new run waits to be taken
    /// (the end belongs to the run before it).
    pub(crate) fn end_of_stream(&self) {
        let mut st = self.lock();
        if st.seek.is_none() && st.switch.is_none() {
            st.ended = true;
        }
        self.changed(st);
    }

    pub(crate) fn cancel(&self) {
        let mut st = self.lock();
        st.cancelled = true;
        for e in &st.entries {
            e.res.cancel();
        }
        self.changed(st);
    }
}

impl TimeMap for Layout {
    fn time_at(&self, pos: u64) -> Option<Duration> {
        let st = self.lock();
        let e = st
            .entry_at(pos)
            .or_else(|| st.entries.last().filter(|e| e.end() == pos))?;
        if e.len == 0 {
            return Some(e.time);
        }
        let frac = (pos - e.start) as f64 / e.len as f64;
        Some(e.time + e.duration.mul_f64(frac.clamp(0.0, 1.0)))
    }

    fn byte_at(&self, t: Duration) -> Option<u64> {
        self.lock().segment_at(t).map(|e| e.start)
    }
}

mod cut;
#[cfg(test)]
mod tests;

pub(crate) use cut::Cut;
