//! [`Progress`]: what a [`StreamMediaSource`](crate::StreamMediaSource) knows about its reader,
//! shared with the decoder: the position and length, the boundary that ended the window, the
//! variant heard, the byte positions where metadata marks take effect (each read stops there, so
//! that the decoder learns which packet a mark belongs to), and the start of a further file in an
//! MPEG audio stream (where the window ends: see `joins.rs`).

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex, MutexGuard, PoisonError,
};

use kithara_stream::{Boundary, Stream, StreamType};

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

    /// Watches `positions`: reads stop there until the reader asks for them.
    pub(crate) fn watch(&self, positions: impl Iterator<Item = u64>) {
        let mut positions = positions.peekable();
        if positions.peek().is_none() {
            return;
        }
        let mut w = guard(&self.watch);
        w.extend(positions);
        w.sort_unstable();
        w.dedup();
    }

    /// How many bytes a read at `at` of up to `want` bytes may return: up to the next watched
    /// byte after `at`. Records that the reader asked for `at`.
    pub(crate) fn read_len(&self, at: u64, want: usize) -> usize {
        self.read_from.store(at, Ordering::Relaxed);
        let mut w = guard(&self.watch);
        if w.is_empty() {
            return want;
        }
        w.retain(|&p| p > at);
        match w.first() {
            Some(&next) => usize::try_from(next - at).map_or(want, |n| n.min(want)),
            None => want,
        }
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
