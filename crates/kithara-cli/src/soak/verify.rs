//! Byte checks of the soak: a progressive file against its body, an HLS run against the
//! segments it is made of.

use anyhow::{bail, Result};
use bytes::Bytes;

/// Fails unless `chunk` equals `body` at `offset`, naming the first differing byte.
pub(crate) fn body_at(body: &[u8], offset: u64, chunk: &[u8]) -> Result<()> {
    let Ok(start) = usize::try_from(offset) else {
        bail!("offset {offset} beyond addressable memory");
    };
    let Some(expected) = start
        .checked_add(chunk.len())
        .and_then(|end| body.get(start..end))
    else {
        bail!(
            "{} bytes read at {start}, past the body's {} bytes",
            chunk.len(),
            body.len()
        );
    };
    if let Some(i) = expected.iter().zip(chunk).position(|(a, b)| a != b) {
        bail!(
            "byte mismatch at offset {}: got {:#04x}, expected {:#04x}",
            start + i,
            chunk[i],
            expected[i]
        );
    }
    Ok(())
}

/// The pieces an HLS variant's byte space is laid out from: its init section (fMP4) and its
/// segments, in playlist order (decrypted).
#[derive(Clone, Debug)]
pub(crate) struct Pieces {
    /// The `EXT-X-MAP` section, if the variant has one.
    pub(crate) init: Option<Bytes>,
    /// The segments, in order.
    pub(crate) segments: Vec<Bytes>,
}

/// How the segments of a run may follow each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// A VOD run from the start: segment 0, 1, 2, … (the init section before the first, and
    /// again wherever the stream repeats it).
    FromStart,
    /// A VOD run after a time seek: any segment first, then consecutive ones.
    AnyFirst,
    /// A live run: any segment first, then increasing ones (segments that left the window
    /// before they were fetched are skipped).
    Increasing,
}

impl Pieces {
    /// Checks that `run` is laid out from the pieces in `order`; the last piece may be cut short
    /// (the reader stopped there). Returns how many segments it spans.
    pub(crate) fn check(&self, run: &[u8], order: Order) -> Result<usize> {
        let mut pos = 0usize;
        let mut next: Option<usize> = match order {
            Order::FromStart => Some(0),
            Order::AnyFirst | Order::Increasing => None,
        };
        let mut spanned = 0usize;
        while pos < run.len() {
            let rest = &run[pos..];
            if let Some(init) = self.init.as_ref().filter(|i| fits(i, rest)) {
                pos += init.len().min(rest.len());
                continue;
            }
            let candidates: Vec<usize> = match (order, next) {
                (_, None) => (0..self.segments.len()).collect(),
                (Order::Increasing, Some(n)) => (n..self.segments.len()).collect(),
                (_, Some(n)) => vec![n],
            };
            let Some(i) = candidates
                .into_iter()
                .find(|&i| self.segments.get(i).is_some_and(|s| fits(s, rest)))
            else {
                bail!(
                    "bytes at {pos} of the run are neither the init section nor {} (after {spanned} segments)",
                    next.map_or_else(|| String::from("any segment"), |n| format!("segment {n}"))
                );
            };
            pos += self.segments[i].len().min(rest.len());
            next = Some(i + 1);
            spanned += 1;
        }
        Ok(spanned)
    }

    /// The whole variant read from the start: the init section (if any), then every segment.
    pub(crate) fn total_len(&self) -> usize {
        self.init.as_ref().map_or(0, Bytes::len)
            + self.segments.iter().map(Bytes::len).sum::<usize>()
    }
}

/// Whether `rest` starts with `piece`, or is a prefix of it (the run ends inside it).
fn fits(piece: &[u8], rest: &[u8]) -> bool {
    let n = piece.len().min(rest.len());
    !piece.is_empty() && piece[..n] == rest[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(init: bool) -> Pieces {
        Pieces {
            init: init.then(|| Bytes::from_static(b"INIT")),
            segments: vec![
                Bytes::from_static(b"aaaa"),
                Bytes::from_static(b"bbbb"),
                Bytes::from_static(b"cccc"),
            ],
        }
    }

    #[test]
    fn runs_are_checked_piece_by_piece() {
        let p = pieces(false);
        assert_eq!(p.check(b"aaaabbbbcccc", Order::FromStart).ok(), Some(3));
        assert_eq!(p.check(b"aaaabb", Order::FromStart).ok(), Some(2));
        assert!(p.check(b"bbbb", Order::FromStart).is_err());
        assert_eq!(p.check(b"bbbbcc", Order::AnyFirst).ok(), Some(2));
        assert!(p.check(b"aaaacccc", Order::AnyFirst).is_err());
        assert_eq!(p.check(b"aaaacccc", Order::Increasing).ok(), Some(2));
        assert!(p.check(b"bbbbaaaa", Order::Increasing).is_err());
        assert!(p.check(b"aaaabxbb", Order::FromStart).is_err());
        let p = pieces(true);
        assert_eq!(p.check(b"INITaaaaINITbbbb", Order::FromStart).ok(), Some(2));
        assert_eq!(p.total_len(), 16);
    }

    #[test]
    fn body_at_names_the_first_mismatch() {
        assert!(body_at(&[1, 2, 3], 1, &[2, 3]).is_ok());
        assert!(body_at(&[1, 2, 3], 2, &[3, 4]).is_err());
        let err = body_at(&[1, 2, 3], 1, &[2, 9]).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err(String::from(
                "byte mismatch at offset 2: got 0x09, expected 0x03"
            ))
        );
    }
}
