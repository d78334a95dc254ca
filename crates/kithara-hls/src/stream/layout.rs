//! The virtual byte space of an HLS stream: what the reader plays, laid out in play order.
//!
//! Pieces (init sections and segments) are placed one after the other at the end of the layout,
//! each once its exact plaintext length is known: from `BYTERANGE` or `Content-Length` for clear
//! segments (so the reader can start while the rest downloads), on completion for AES ones. An
//! offset handed out never changes meaning. Boundaries mark where the codec set-up may change
//! (an init, a variant switch, a discontinuity, a seek jump). A seek by time to media that is not
//! laid out starts a new run at the end of the layout; pieces still in flight for the old run are
//! then never placed (their generation is stale).
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
use kithara_stream::{Boundary, BoundaryKind, Error, MediaInfo, SegmentLayout, TimeMap};

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
    pub(crate) generation: u64,
}

/// Where one segment of the playlist being played sits in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SegmentTime {
    pub(crate) sequence: u64,
    pub(crate) start: Duration,
    pub(crate) duration: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) entries: Vec<Entry>,
    pub(crate) boundaries: Vec<Boundary>,
    /// No more pieces will come (VOD laid out to the end, or live after `ENDLIST`).
    pub(crate) ended: bool,
    pub(crate) failed: Option<Error>,
    pub(crate) cancelled: bool,
    /// Bumped by every seek that starts a new run.
    pub(crate) generation: u64,
    pub(crate) seek: Option<SeekRequest>,
    pub(crate) peer_waker: Option<Waker>,
    /// The segments of the playlist being played, for seeks by time (kept by the peer).
    pub(crate) timing: Vec<SegmentTime>,
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
        self.boundaries
            .iter()
            .rev()
            .find(|b| b.kind == BoundaryKind::SeekJump)
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

    /// Wakes the reader and the peer after a change.
    pub(crate) fn changed(&self, mut st: MutexGuard<'_, State>) {
        let waker = st.peer_waker.take();
        drop(st);
        self.inner.1.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Places a piece at the end of the layout, with the boundary that precedes it, if its run is
    /// still current. Returns where it starts.
    pub(crate) fn place(
        &self,
        generation: u64,
        mut entry: Entry,
        boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
    ) -> Option<u64> {
        let mut st = self.lock();
        if st.generation != generation || st.cancelled {
            return None;
        }
        entry.start = st.end();
        let start = entry.start;
        if let Some((kind, info)) = boundary {
            let init = if entry.piece == Piece::Init {
                Some(start..entry.end())
            } else {
                st.init_before(start, entry.variant)
            };
            // A boundary already waiting at this offset (a seek jump) keeps its kind.
            if st.boundaries.last().is_none_or(|b| b.pos != start) {
                st.boundaries.push(
                    Boundary::new(start, kind)
                        .with_media_info(info)
                        .with_time(entry.time)
                        .with_init(init),
                );
            } else if let Some(b) = st.boundaries.last_mut() {
                b.media_info = info.or(b.media_info);
                b.init = init;
            }
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

    /// Takes back the last placed piece if it is segment `sequence` of `variant` and the reader
    /// (at `reader`) has not reached it: its offsets were never read. Returns whether it did.
    pub(crate) fn retract_unread(&self, variant: usize, sequence: u64, reader: u64) -> bool {
        let mut st = self.lock();
        let Some(last) = st.entries.last() else {
            return false;
        };
        if last.variant != variant || last.piece != Piece::Segment(sequence) || reader > last.start
        {
            return false;
        }
        let start = last.start;
        if let Some(e) = st.entries.pop() {
            e.res.cancel();
        }
        // Its boundary goes with it, except a seek jump, which still marks where the run starts.
        st.boundaries
            .retain(|b| b.pos < start || b.kind == BoundaryKind::SeekJump);
        tracing::debug!(start, sequence, variant, "retracted an unread piece");
        self.changed(st);
        true
    }

    pub(crate) fn fail(&self, e: Error) {
        let mut st = self.lock();
        if st.failed.is_none() {
            st.failed = Some(e);
        }
        self.changed(st);
    }

    pub(crate) fn end_of_stream(&self) {
        let mut st = self.lock();
        st.ended = true;
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
        let st = self.lock();
        let run_start = st.current_run_start();
        st.entries
            .iter()
            .filter(|e| e.start >= run_start && matches!(e.piece, Piece::Segment(_)))
            .find(|e| e.time <= t && t < e.time + e.duration)
            .map(|e| e.start)
    }
}

impl SegmentLayout for Layout {
    fn init_segment_range(&self) -> Option<Range<u64>> {
        let st = self.lock();
        st.entries
            .iter()
            .rev()
            .find(|e| e.piece == Piece::Init)
            .map(|e| e.start..e.end())
    }

    fn segment_after_byte(&self, pos: u64) -> Option<u64> {
        let st = self.lock();
        st.entries.iter().map(|e| e.start).find(|&s| s > pos)
    }

    fn len(&self) -> Option<u64> {
        let st = self.lock();
        st.ended.then(|| st.end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: u64, piece: Piece) -> Entry {
        let res = StorageResource::memory();
        res.write_at(0, &[1u8; 10]).unwrap_or(());
        let _ = res.set_len(10);
        Entry {
            start: 0,
            len: 10,
            res,
            variant: 0,
            piece,
            time: Duration::from_secs(time),
            duration: Duration::from_secs(2),
        }
    }

    #[test]
    fn placement_times_and_release() {
        let layout = Layout::default();
        for (i, t) in [0u64, 2, 4].iter().enumerate() {
            let at = layout.place(0, entry(*t, Piece::Segment(i as u64)), None);
            assert_eq!(at, Some(i as u64 * 10));
        }
        assert_eq!(layout.time_at(15), Some(Duration::from_secs(3)));
        assert_eq!(layout.byte_at(Duration::from_millis(4500)), Some(20));
        // A stale run places nothing.
        assert_eq!(layout.place(7, entry(6, Piece::Segment(3)), None), None);
        layout.release_before(Duration::from_secs(5), Duration::from_secs(60));
        let st = layout.lock();
        assert!(st.entries[0].res.failure().is_some());
        assert!(st.entries[1].res.failure().is_some());
        assert!(st.entries[2].res.failure().is_none());
    }

    #[test]
    fn boundaries_name_the_init_section_the_bytes_after_them_need() {
        let layout = Layout::default();
        let v = |variant: usize, piece: Piece, kind: Option<BoundaryKind>| {
            let mut e = entry(0, piece);
            e.variant = variant;
            layout.place(0, e, kind.map(|k| (k, None)))
        };
        assert_eq!(v(0, Piece::Init, Some(BoundaryKind::Init)), Some(0));
        v(0, Piece::Segment(0), None);
        // A discontinuity that re-uses the variant's init section laid out before it.
        v(0, Piece::Segment(1), Some(BoundaryKind::Discontinuity));
        // A switch that starts with the new variant's own init section.
        v(1, Piece::Init, Some(BoundaryKind::VariantSwitch));
        v(1, Piece::Segment(2), None);
        let st = layout.lock();
        let inits: Vec<_> = st
            .boundaries
            .iter()
            .map(|b| (b.pos, b.init.clone()))
            .collect();
        assert_eq!(
            inits,
            vec![(0, Some(0..10)), (20, Some(0..10)), (30, Some(30..40))]
        );
        assert_eq!(st.init_before(45, 1), Some(30..40));
        assert_eq!(
            st.init_before(45, 2),
            None,
            "a variant without init sections"
        );
    }
}
