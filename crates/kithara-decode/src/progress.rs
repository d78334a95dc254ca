//! [`Progress`]: what a [`StreamMediaSource`](crate::StreamMediaSource) knows about its reader,
//! shared with the decoder: the position and length, the boundary that ended the window, the
//! variant heard, the byte positions where metadata marks take effect (each read stops there, so
//! that the decoder learns which packet a mark belongs to), and the start of a further file in an
//! MPEG audio stream (where the window ends: see `joins.rs`).

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex, MutexGuard, PoisonError,
};

use kithara_stream::{Boundary, MarkAt, MetadataMark, Stream, StreamType};

use crate::joins::JoinScan;

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the reader is and how long the stream is, as of the last read or seek; shared with the
/// decoder so it can place chunks and tell a truncated file from a malformed one.
#[derive(Debug)]
pub(crate) struct Progress {
    pos: AtomicU64,
    /// `u64::MAX` while unknown.
    len: AtomicU64,
    /// The stream byte the last read started at: every byte before it has been consumed by the
    /// reader (symphonia refills its buffer only once it is empty).
    read_from: AtomicU64,
    /// The boundary at which the wrapper reported the end of its source.
    boundary: Mutex<Option<Boundary>>,
    /// The boundary the wrapper gave as the end of its window when a reader asked for its length
    /// (a reader that knows the length stops there without the read that would hit it).
    window_end: Mutex<Option<Boundary>>,
    /// The variant the window's bytes belong to (adaptive sources), once a read got some.
    variant: Mutex<Option<usize>>,
    /// Stream bytes where metadata marks take effect, not reached yet: reads stop there.
    watch: Mutex<Vec<u64>>,
    /// The number of the next source mark the reader looks at after a read (its own cursor: a
    /// mark recorded while a read waited is found by that read).
    mark_seq: AtomicU64,
    /// Looks for the start of a further file (MPEG audio streams only).
    scan: Mutex<Option<JoinScan>>,
    /// Where a further file starts: the window ends there. `u64::MAX` while none.
    join: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            pos: AtomicU64::new(0),
            len: AtomicU64::new(u64::MAX),
            read_from: AtomicU64::new(0),
            boundary: Mutex::new(None),
            window_end: Mutex::new(None),
            variant: Mutex::new(None),
            watch: Mutex::new(Vec::new()),
            mark_seq: AtomicU64::new(0),
            scan: Mutex::new(None),
            join: AtomicU64::new(u64::MAX),
        }
    }
}

impl Progress {
    /// The stream position after the last read or seek.
    pub(crate) fn pos(&self) -> u64 {
        self.pos.load(Ordering::Relaxed)
    }

    /// Whether the last read reached the stream's known end.
    pub(crate) fn at_end(&self) -> bool {
        let len = self.len.load(Ordering::Relaxed);
        len != u64::MAX && self.pos() >= len
    }

    /// The boundary that ended the source, if one did: the one a read stopped at, else the one
    /// the window's length ends at once the reader got there.
    pub(crate) fn boundary(&self) -> Option<Boundary> {
        let hit = guard(&self.boundary).clone();
        hit.or_else(|| {
            let end = guard(&self.window_end).clone();
            end.filter(|b| self.pos() >= b.pos)
        })
    }

    /// The variant the window's bytes belong to, for adaptive sources.
    pub(crate) fn variant(&self) -> Option<usize> {
        *guard(&self.variant)
    }

    pub(crate) fn set_variant(&self, v: Option<usize>) {
        *guard(&self.variant) = v;
    }

    pub(crate) fn set_window_end(&self, b: Boundary) {
        *guard(&self.window_end) = Some(b);
    }

    pub(crate) fn set_boundary(&self, b: Boundary) {
        *guard(&self.boundary) = Some(b);
    }

    pub(crate) fn update<T: StreamType>(&self, s: &Stream<T>) {
        self.pos.store(s.position(), Ordering::Relaxed);
        self.len
            .store(s.len().unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Whether the reader has asked for byte `pos` (and so consumed every byte before it).
    pub(crate) fn reached(&self, pos: u64) -> bool {
        self.read_from.load(Ordering::Relaxed) >= pos
    }

    /// Watches the bytes of the marks not reported yet (`positions`, replacing the last list):
    /// reads stop there, also again after the reader went back before one (a probe rewinds to
    /// the window's start).
    pub(crate) fn watch(&self, positions: impl Iterator<Item = u64>) {
        let mut w = guard(&self.watch);
        if w.is_empty() {
            let mut positions = positions.peekable();
            if positions.peek().is_none() {
                return;
            }
            w.extend(positions);
        } else {
            w.clear();
            w.extend(positions);
        }
        w.sort_unstable();
        w.dedup();
    }

    /// How many bytes a read at `at` of up to `want` bytes may return: up to the next watched
    /// byte after `at`. Records that the reader asked for `at`.
    pub(crate) fn read_len(&self, at: u64, want: usize) -> usize {
        self.read_from.store(at, Ordering::Relaxed);
        let w = guard(&self.watch);
        match w.get(w.partition_point(|&p| p <= at)) {
            Some(&next) => usize::try_from(next - at).map_or(want, |n| n.min(want)),
            None => want,
        }
    }

    /// The number of the next source mark to look at after a read.
    pub(crate) fn mark_seq(&self) -> u64 {
        self.mark_seq.load(Ordering::Relaxed)
    }

    /// After a read of `n` bytes at `at`: watches the byte marks the source recorded since the
    /// last look (`marks`), and says how many of the bytes the read keeps, up to the first mark
    /// after `at`. A source records a mark before the bytes it is at can be read, so a read that
    /// waited while a mark and its bytes arrived still stops at the mark; the next read starts
    /// there (and so reaches it while the packet that holds it is read).
    pub(crate) fn keep_before_marks(&self, at: u64, n: usize, marks: Vec<MetadataMark>) -> usize {
        let mut first = None::<u64>;
        let mut w = guard(&self.watch);
        for m in marks {
            self.mark_seq
                .fetch_max(m.seq.saturating_add(1), Ordering::Relaxed);
            if let MarkAt::Byte(p) = m.at {
                w.push(p);
                if p > at {
                    first = Some(first.map_or(p, |f| f.min(p)));
                }
            }
        }
        w.sort_unstable();
        w.dedup();
        first.map_or(n, |p| usize::try_from(p - at).map_or(n, |k| k.min(n)))
    }

    /// Starts looking for further files in the bytes read from here on.
    pub(crate) fn scan_joins(&self, scan: JoinScan) {
        let mut s = guard(&self.scan);
        if s.is_none() {
            *s = Some(scan);
        }
    }

    /// Looks at `bytes` read at `at` for a further file; records and returns where it starts.
    pub(crate) fn find_join(&self, at: u64, bytes: &[u8]) -> Option<u64> {
        let found = guard(&self.scan).as_mut()?.feed(at, bytes)?;
        self.join.fetch_min(found, Ordering::Relaxed);
        Some(found)
    }

    /// Where a further file starts, once a read found one: the window ends there.
    pub(crate) fn join(&self) -> Option<u64> {
        let j = self.join.load(Ordering::Relaxed);
        (j != u64::MAX).then_some(j)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kithara_stream::{MetadataMarks, NowPlaying};

    use super::*;

    #[test]
    fn a_read_that_waited_while_a_mark_arrived_stops_at_the_mark() {
        let p = Progress::default();
        let marks = MetadataMarks::default();
        // The read at 1000 was cut nowhere (no mark known), got 4096 bytes; a mark at 3000
        // arrived with them.
        assert_eq!(p.read_len(1000, 4096), 4096);
        marks.push(MarkAt::Byte(3000), NowPlaying::titled("a"));
        marks.push(
            MarkAt::Time(Duration::from_secs(1)),
            NowPlaying::titled("t"),
        );
        assert_eq!(
            p.keep_before_marks(1000, 4096, marks.since(p.mark_seq())),
            2000
        );
        assert_eq!(p.mark_seq(), 2);
        assert!(!p.reached(3000));
        // The next read starts at the mark, reaches it, and is not cut again.
        assert_eq!(p.read_len(3000, 4096), 4096);
        assert!(p.reached(3000));
        assert!(marks.since(p.mark_seq()).is_empty());
    }

    #[test]
    fn a_rewind_before_a_watched_byte_stops_at_it_again() {
        let p = Progress::default();
        p.watch([1u64, 500].into_iter());
        assert_eq!(p.read_len(0, 512), 1);
        assert_eq!(p.read_len(1, 511), 499);
        // A probe rewinds to the window's start: the read stops at byte 1 again.
        assert_eq!(p.read_len(0, 1024), 1);
        assert!(!p.reached(1));
        // Once the decoder reported byte 1's mark, only 500 is watched.
        p.watch(std::iter::once(500));
        assert_eq!(p.read_len(0, 1024), 500);
        p.watch(std::iter::empty());
        assert_eq!(p.read_len(0, 1024), 1024);
    }
}
