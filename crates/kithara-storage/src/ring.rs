//! The ring backend: at most `capacity` bytes in memory, for endless streams (internet radio) and
//! as a bounded-memory option for finite files.
//!
//! Bytes are kept as the written chunks themselves (`Bytes`, the HTTP client's buffers, without a
//! copy), in a queue ordered by offset and contiguous: writes append at the head, and the oldest
//! chunks are dropped once the ring would grow past its capacity. Only bytes the reader has read
//! (and that lie more than `keep_behind` bytes behind it, the part kept for seeking back) are ever
//! dropped: a writer that finds the ring full of unread bytes waits on a condition variable until
//! the reader moves on or the resource is cancelled, which back-pressures the connection.
//!
//! A write that does not continue the head (a seek of a finite file past the kept bytes, answered
//! by a request at the target) starts the ring over there: the bytes kept are dropped at once,
//! whether read or not, because they no longer continue into the bytes that follow.
//!
//! The ring owns the bytes; the resource's state (present ranges, the first byte kept) is told of
//! every change, under the order ring lock → state lock. A reader that raced an eviction finds the
//! bytes gone in the ring itself and gets [`Error::Evicted`](crate::Error::Evicted).

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};

use crate::{mem::copy_overlap, Error, Result};

/// Writes shorter than this are gathered into one buffer instead of kept one by one.
const SMALL_WRITE: usize = 4 * 1024;
/// Largest gathered buffer.
const GATHER_CAP: usize = 64 * 1024;

/// What the ring holds, guarded by [`RingBackend::inner`].
#[derive(Debug)]
struct Ring {
    /// Sealed chunks, contiguous, oldest first: `(offset of the first byte, bytes)`.
    chunks: VecDeque<(u64, Bytes)>,
    /// Small writes being gathered after the last sealed chunk.
    gather: BytesMut,
    /// First byte kept.
    start: u64,
    /// One past the last byte kept (the head, where the next write goes).
    end: u64,
    /// Where the reader last read up to (or waited): bytes from here on are unread.
    reader: u64,
    /// The resource was cancelled: a waiting writer gives up.
    closed: bool,
    /// A writer is waiting for room: readers wake it when they move.
    writer_waiting: bool,
}

impl Ring {
    fn held(&self) -> u64 {
        self.end - self.start
    }

    /// The first byte that must be kept: the reader's position less the part kept behind it.
    fn floor(&self, keep_behind: u64) -> u64 {
        self.reader.saturating_sub(keep_behind).max(self.start)
    }

    /// Drops the bytes before `upto` (at most up to the head); returns the new first byte kept.
    fn drop_before(&mut self, upto: u64) -> u64 {
        use bytes::Buf;
        let upto = upto.min(self.end);
        while let Some((off, chunk)) = self.chunks.front_mut() {
            let chunk_end = *off + chunk.len() as u64;
            if chunk_end <= upto {
                self.chunks.pop_front();
                continue;
            }
            if *off < upto {
                chunk.advance((upto - *off) as usize);
                *off = upto;
            }
            break;
        }
        if self.chunks.is_empty() {
            let gather_at = self.end - self.gather.len() as u64;
            if gather_at < upto {
                self.gather.advance((upto - gather_at) as usize);
            }
        }
        self.start = self.start.max(upto);
        self.start
    }

    fn seal(&mut self) {
        if !self.gather.is_empty() {
            let len = self.gather.len() as u64;
            let bytes = self.gather.split().freeze();
            self.chunks.push_back((self.end - len, bytes));
        }
    }

    fn append(&mut self, data: Bytes) {
        let n = data.len() as u64;
        if data.len() < SMALL_WRITE && self.gather.len() + data.len() <= GATHER_CAP {
            if self.gather.capacity() == 0 {
                self.gather.reserve(GATHER_CAP);
            }
            self.gather.extend_from_slice(&data);
        } else {
            self.seal();
            self.chunks.push_back((self.end, data));
        }
        self.end += n;
        if self.gather.len() >= GATHER_CAP {
            self.seal();
        }
    }
}

/// Ring memory storage. See the module docs.
#[derive(Debug)]
pub(crate) struct RingBackend {
    inner: Mutex<Ring>,
    room: Condvar,
    capacity: u64,
    keep_behind: u64,
}

/// What a write changed: the resource's state is updated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The bytes now kept.
    pub(crate) kept: Range<u64>,
}

impl RingBackend {
    /// A ring of at most `capacity` bytes (at least 1), keeping up to `keep_behind` bytes the
    /// reader has read for seeking back (at most half the capacity).
    pub(crate) fn new(capacity: u64, keep_behind: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            inner: Mutex::new(Ring {
                chunks: VecDeque::new(),
                gather: BytesMut::new(),
                start: 0,
                end: 0,
                reader: 0,
                closed: false,
                writer_waiting: false,
            }),
            room: Condvar::new(),
            capacity,
            keep_behind: keep_behind.min(capacity / 2),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most bytes kept at once.
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The bytes kept right now.
    pub(crate) fn kept(&self) -> Range<u64> {
        let r = self.lock();
        r.start..r.end
    }

    /// Appends `data` at `offset`, waiting (cancellably, woken by the reader) while the ring is
    /// full of unread bytes. `publish` is called under the ring lock after every step that
    /// changed what is kept, so the resource's state never names a byte the ring dropped.
    pub(crate) fn write(
        &self,
        offset: u64,
        mut data: Bytes,
        mut publish: impl FnMut(&Written),
    ) -> Result<()> {
        let mut r = self.lock();
        if offset != r.end {
            // Not a continuation: start over at `offset`.
            tracing::debug!(from = r.end, to = offset, "ring starts over");
            r.chunks.clear();
            r.gather.clear();
            r.start = offset;
            r.end = offset;
            r.reader = offset;
            publish(&Written {
                kept: offset..offset,
            });
        }
        while !data.is_empty() {
            let floor = r.floor(self.keep_behind);
            let room = self.capacity.saturating_sub(r.held());
            if room == 0 {
                let before = r.start;
                r.drop_before(floor);
                if r.start != before {
                    publish(&Written {
                        kept: r.start..r.end,
                    });
                    continue;
                }
                if r.closed {
                    return Err(Error::Cancelled);
                }
                r.writer_waiting = true;
                r = self.room.wait(r).unwrap_or_else(PoisonError::into_inner);
                r.writer_waiting = false;
                continue;
            }
            let take = usize::try_from(room).map_or(data.len(), |room| room.min(data.len()));
            let piece = data.split_to(take);
            r.append(piece);
            publish(&Written {
                kept: r.start..r.end,
            });
        }
        Ok(())
    }

    /// Copies bytes from `offset` into `buf` (the caller read the bytes as present) and records
    /// that the reader is now past them, waking a writer that waits for room.
    ///
    /// # Errors
    /// [`Error::Evicted`] if the bytes at `offset` were dropped meanwhile.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        const HANDLES: usize = 4;
        let mut handles: [Option<(u64, Bytes)>; HANDLES] = Default::default();
        let mut copied = 0;
        {
            let mut r = self.lock();
            if offset < r.start {
                return Err(Error::Evicted {
                    pos: offset,
                    kept: r.start..r.end,
                });
            }
            let end = offset
                .saturating_add(buf.len() as u64)
                .min(r.end)
                .max(offset);
            let want = (end - offset) as usize;
            let buf = &mut buf[..want];
            let first = r
                .chunks
                .partition_point(|(o, c)| o + c.len() as u64 <= offset);
            for (i, (o, c)) in r.chunks.range(first..).enumerate() {
                if *o >= end {
                    break;
                }
                match handles.get_mut(i) {
                    Some(slot) => *slot = Some((*o, c.clone())),
                    None => copied += copy_overlap(offset, buf, *o, c),
                }
            }
            let gather_at = r.end - r.gather.len() as u64;
            copied += copy_overlap(offset, buf, gather_at, &r.gather);
            r.reader = offset + want as u64;
            if r.writer_waiting {
                self.room.notify_all();
            }
        }
        for (o, c) in handles.iter().flatten() {
            copied += copy_overlap(offset, buf, *o, c);
        }
        Ok(copied)
    }

    /// Records that the reader waits at `pos` (it has read everything before it).
    pub(crate) fn reader_at(&self, pos: u64) {
        let mut r = self.lock();
        r.reader = pos;
        if r.writer_waiting {
            self.room.notify_all();
        }
    }

    /// Wakes a waiting writer for good: the resource was cancelled.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_capacity_and_reads_across_chunks() {
        let ring = RingBackend::new(10, 0);
        ring.write(0, Bytes::from_static(b"abcd"), |_| {}).unwrap();
        ring.write(4, Bytes::from_static(b"efgh"), |_| {}).unwrap();
        let mut buf = [0u8; 6];
        assert_eq!(ring.read(1, &mut buf).unwrap(), 6);
        assert_eq!(&buf, b"bcdefg");
        // The reader is at 7 and nothing is kept behind it: bytes before 7 make room.
        ring.write(8, Bytes::from_static(b"ijklm"), |_| {}).unwrap();
        assert_eq!(ring.kept(), 7..13);
        match ring.read(2, &mut buf) {
            Err(Error::Evicted { pos: 2, kept }) => assert_eq!(kept, 7..13),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_write_elsewhere_starts_over() {
        let ring = RingBackend::new(100, 10);
        ring.write(0, Bytes::from_static(b"abc"), |_| {}).unwrap();
        ring.write(1000, Bytes::from_static(b"xyz"), |_| {})
            .unwrap();
        assert_eq!(ring.kept(), 1000..1003);
    }
}
