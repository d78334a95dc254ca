//! In-memory backend: the written chunks themselves, kept by offset.
//!
//! Each committed chunk is kept as a [`Bytes`] in an ordered map keyed by its offset. A chunk that
//! arrives as `Bytes` (the downloader hands over the HTTP client's buffers) is stored without
//! copying; a `&[u8]` write is copied once. Sparse regions cost nothing, a stream never reallocates
//! what it holds, and a read copies straight from the chunks into the caller's buffer.
//!
//! Small writes (under [`SMALL_WRITE`]) are appended to an owned tail buffer of up to
//! [`TAIL_CAP`] bytes instead, so a server that sends tiny chunks does not cost a map entry per
//! chunk.
//!
//! The backend does no range bookkeeping: the resource only reads bytes it has committed and only
//! writes bytes it has not, so chunks never overlap and readers never see a half-written chunk.

use std::{
    collections::BTreeMap,
    sync::{PoisonError, RwLock},
};

use bytes::Bytes;

/// Writes shorter than this are coalesced into the tail buffer.
pub(crate) const SMALL_WRITE: usize = 4 * 1024;
/// Largest tail buffer before it is sealed into the chunk map.
pub(crate) const TAIL_CAP: usize = 64 * 1024;

/// Chunk-map memory storage. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MemBackend {
    inner: RwLock<Chunks>,
}

#[derive(Debug, Default)]
struct Chunks {
    map: BTreeMap<u64, Bytes>,
    /// Small contiguous writes being gathered: (offset of the first byte, the bytes).
    tail: Option<(u64, Vec<u8>)>,
}

impl Chunks {
    fn seal_tail(&mut self) {
        if let Some((start, mut buf)) = self.tail.take() {
            buf.shrink_to_fit();
            self.map.insert(start, Bytes::from(buf));
        }
    }
}

impl MemBackend {
    /// Stores `data` at `offset` (a range not stored before).
    pub(crate) fn write(&self, offset: u64, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let mut c = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if data.len() >= SMALL_WRITE {
            c.map.insert(offset, data);
            return;
        }
        if let Some((start, buf)) = c.tail.as_mut() {
            if *start + buf.len() as u64 == offset && buf.len() + data.len() <= TAIL_CAP {
                buf.extend_from_slice(&data);
                return;
            }
        }
        c.seal_tail();
        let mut buf = Vec::with_capacity(TAIL_CAP);
        buf.extend_from_slice(&data);
        c.tail = Some((offset, buf));
    }

    /// Fills `buf` from `offset`; the caller guarantees the whole range is stored. Bytes that are not
    /// stored read as zeros.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) {
        // Chunks never overlap, so the copied lengths add up to the buffer exactly when it is
        // covered; only an (unexpected) gap costs a second pass that zeroes first.
        if self.copy_into(offset, buf) != buf.len() {
            buf.fill(0);
            self.copy_into(offset, buf);
        }
    }

    /// Copies every stored byte of `offset..offset + buf.len()` into `buf`; returns how many.
    ///
    /// The first few overlapping chunks are taken as cheap handles and copied after the lock is
    /// released, so the writer (on the download's task) never waits for a reader's copy; only the
    /// small tail, and chunks past the first few (small ones), are copied under the lock.
    fn copy_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        const HANDLES: usize = 4;
        let end = offset.saturating_add(buf.len() as u64);
        let mut handles: [Option<(u64, Bytes)>; HANDLES] = Default::default();
        let mut copied = 0;
        {
            let c = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((start, tail)) = &c.tail {
                copied += copy_overlap(offset, buf, *start, tail);
            }
            let first = c
                .map
                .range(..=offset)
                .next_back()
                .map_or(offset, |(&k, _)| k);
            for (i, (&start, chunk)) in c.map.range(first..end).enumerate() {
                match handles.get_mut(i) {
                    Some(slot) => *slot = Some((start, chunk.clone())),
                    None => copied += copy_overlap(offset, buf, start, chunk),
                }
            }
        }
        for (start, chunk) in handles.iter().flatten() {
            copied += copy_overlap(offset, buf, *start, chunk);
        }
        copied
    }
}

/// Copies the part of `chunk` (stored at `start`) that overlaps `buf` (standing for `offset..`);
/// returns how many bytes that was.
pub(crate) fn copy_overlap(offset: u64, buf: &mut [u8], start: u64, chunk: &[u8]) -> usize {
    let end = offset.saturating_add(buf.len() as u64);
    let from = offset.max(start);
    let to = end.min(start.saturating_add(chunk.len() as u64));
    if from >= to {
        return 0;
    }
    let dst = (from - offset) as usize;
    let src = (from - start) as usize..(to - start) as usize;
    let n = src.len();
    buf[dst..dst + n].copy_from_slice(&chunk[src]);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_span_chunks_and_gaps_read_as_zero() {
        let m = MemBackend::default();
        m.write(10, Bytes::from_static(b"abc"));
        m.write(13, Bytes::from_static(b"def"));
        m.write(20, Bytes::from_static(b"xy"));
        let mut buf = [9u8; 14];
        m.read(9, &mut buf);
        assert_eq!(&buf, b"\0abcdef\0\0\0\0xy\0");
        let mut mid = [0u8; 3];
        m.read(12, &mut mid);
        assert_eq!(&mid, b"cde");
    }

    #[test]
    fn tiny_writes_are_gathered_not_kept_one_by_one() {
        let m = MemBackend::default();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for (i, piece) in body.chunks(100).enumerate() {
            m.write(i as u64 * 100, Bytes::copy_from_slice(piece));
        }
        let entries = m.inner.read().unwrap().map.len();
        assert!(
            entries <= body.len() / TAIL_CAP + 1,
            "{entries} map entries for 2000 writes"
        );
        let mut back = vec![0u8; body.len()];
        m.read(0, &mut back);
        assert!(back == body);
        // Reads spanning the sealed chunks and the open tail.
        let mut mid = vec![0u8; 70_000];
        m.read(120_000, &mut mid);
        assert!(mid[..] == body[120_000..190_000]);
        // A large write elsewhere, then a small one that does not continue the tail.
        m.write(1_000_000, Bytes::from(vec![7u8; 10_000]));
        m.write(500_000, Bytes::from_static(b"xyz"));
        let mut probe = [0u8; 3];
        m.read(500_000, &mut probe);
        assert_eq!(&probe, b"xyz");
        m.read(199_998, &mut probe[..2]);
        assert_eq!(&probe[..2], &body[199_998..]);
    }

    #[test]
    fn stored_bytes_are_the_callers_buffers() {
        let m = MemBackend::default();
        let data = Bytes::from(vec![5u8; SMALL_WRITE]);
        let ptr = data.as_ptr();
        m.write(0, data);
        let chunks = m.inner.read().unwrap();
        assert_eq!(chunks.map[&0].as_ptr(), ptr, "no copy");
    }
}
