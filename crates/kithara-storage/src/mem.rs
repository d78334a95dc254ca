//! In-memory backend: lazily allocated fixed-size pages.
//!
//! Bytes live in pages of [`PAGE_SIZE`] bytes held in a page table
//! (`Vec<Option<Box<[u8]>>>`) behind an `RwLock`. A page is allocated the
//! first time a write touches it, so a stream never reallocates or copies
//! bytes already stored, and never-written (sparse) regions cost one
//! pointer-sized table slot per page. Reads and writes may span pages.
//!
//! The backend does no range bookkeeping: the resource only reads bytes it
//! has committed and only writes bytes it has not, so writers and readers
//! never touch the same bytes concurrently.

use std::sync::{PoisonError, RwLock};

/// Size of one page in bytes (256 KiB).
pub(crate) const PAGE_SIZE: usize = 256 * 1024;

/// Page-table memory storage. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MemBackend {
    pages: RwLock<Vec<Option<Box<[u8]>>>>,
}

/// Splits `offset..offset + len` into `(page index, offset in page, len)`
/// pieces, in order.
fn pieces(offset: u64, len: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let page = PAGE_SIZE as u64;
    let mut pos = offset;
    let mut left = len;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        // Page indices fit in usize: a page table for offsets beyond
        // `usize::MAX * PAGE_SIZE` could not be allocated anyway.
        let index = usize::try_from(pos / page).unwrap_or(usize::MAX);
        let in_page = (pos % page) as usize;
        let n = left.min(PAGE_SIZE - in_page);
        pos += n as u64;
        left -= n;
        Some((index, in_page, n))
    })
}

impl MemBackend {
    /// Copies `data` to `offset`, allocating pages as needed.
    pub(crate) fn write(&self, offset: u64, data: &[u8]) {
        let mut pages = self.pages.write().unwrap_or_else(PoisonError::into_inner);
        let mut src = data;
        for (index, in_page, n) in pieces(offset, data.len()) {
            if pages.len() <= index {
                pages.resize_with(index + 1, || None);
            }
            let page = pages[index].get_or_insert_with(|| vec![0; PAGE_SIZE].into_boxed_slice());
            let (head, rest) = src.split_at(n);
            page[in_page..in_page + n].copy_from_slice(head);
            src = rest;
        }
    }

    /// Fills `buf` from `offset`. Never-written bytes read as zeros (the
    /// resource never asks for them).
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        let mut dst = buf;
        for (index, in_page, n) in pieces(offset, dst.len()) {
            let (head, rest) = dst.split_at_mut(n);
            match pages.get(index).and_then(Option::as_ref) {
                Some(page) => head.copy_from_slice(&page[in_page..in_page + n]),
                None => head.fill(0),
            }
            dst = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_at_page_boundaries() {
        let p = PAGE_SIZE;
        let v: Vec<_> = pieces(p as u64 - 10, p + 20).collect();
        assert_eq!(v, vec![(0, p - 10, 10), (1, 0, p), (2, 0, 10)]);
        assert_eq!(pieces(5, 0).count(), 0);
    }

    #[test]
    fn sparse_pages_are_not_allocated() {
        let m = MemBackend::default();
        m.write(10 * PAGE_SIZE as u64 + 3, b"abc");
        let pages = m.pages.read().unwrap();
        assert_eq!(pages.len(), 11);
        assert_eq!(pages.iter().filter(|p| p.is_some()).count(), 1);
        drop(pages);
        let mut buf = [9u8; 5];
        m.read(10 * PAGE_SIZE as u64 + 2, &mut buf);
        assert_eq!(&buf, b"\0abc\0");
    }
}
