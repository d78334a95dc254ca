//! In-memory backend: the written chunks themselves, kept by offset.
//!
//! Each committed chunk is kept as a [`Bytes`] in an ordered map keyed by its offset. A chunk that
//! arrives as `Bytes` (the downloader hands over the HTTP client's buffers) is stored without
//! copying; a `&[u8]` write is copied once. Sparse regions cost nothing, a stream never reallocates
//! what it holds, and a read copies straight from the chunks into the caller's buffer.
//!
//! The backend does no range bookkeeping: the resource only reads bytes it has committed and only
//! writes bytes it has not, so chunks never overlap and readers never see a half-written chunk.

use std::{
    collections::BTreeMap,
    sync::{PoisonError, RwLock},
};

use bytes::Bytes;

/// Chunk-map memory storage. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MemBackend {
    chunks: RwLock<BTreeMap<u64, Bytes>>,
}

impl MemBackend {
    /// Stores `data` at `offset` (a range not stored before).
    pub(crate) fn write(&self, offset: u64, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.chunks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(offset, data);
    }

    /// Fills `buf` from `offset`; the caller guarantees the whole range is stored. Bytes that are not
    /// stored read as zeros.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) {
        let end = offset.saturating_add(buf.len() as u64);
        // Take cheap handles on the overlapping chunks, copy after releasing the lock.
        let pieces: Vec<(u64, Bytes)> = {
            let chunks = self.chunks.read().unwrap_or_else(PoisonError::into_inner);
            let first = chunks
                .range(..=offset)
                .next_back()
                .map(|(&k, _)| k)
                .unwrap_or(offset);
            chunks
                .range(first..end)
                .filter(|(&start, b)| start + b.len() as u64 > offset)
                .map(|(&start, b)| (start, b.clone()))
                .collect()
        };
        let mut filled = 0usize;
        for (start, chunk) in pieces {
            let from = offset.max(start);
            let to = end.min(start + chunk.len() as u64);
            let dst = (from - offset) as usize;
            if dst > filled {
                buf[filled..dst].fill(0);
            }
            let src = (from - start) as usize..(to - start) as usize;
            let n = src.len();
            buf[dst..dst + n].copy_from_slice(&chunk[src]);
            filled = dst + n;
        }
        buf[filled..].fill(0);
    }
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
    fn stored_bytes_are_the_callers_buffers() {
        let m = MemBackend::default();
        let data = Bytes::from(vec![5u8; 1000]);
        let ptr = data.as_ptr();
        m.write(0, data);
        let chunks = m.chunks.read().unwrap();
        assert_eq!(chunks[&0].as_ptr(), ptr, "no copy");
    }
}
