//! Framing of the cache's small metadata files (asset index, key blob):
//! `magic ‖ body ‖ SHA-256(magic ‖ body)`, with bounds-checked field
//! readers, so that a truncated or garbage file decodes to `None` instead
//! of panicking or yielding made-up values.

use sha2::{Digest, Sha256};

/// Length of the checksum trailer.
const SUM_LEN: usize = 32;

/// Wraps `body` in `magic` and a checksum trailer.
pub(crate) fn seal(magic: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(magic.len() + body.len() + SUM_LEN);
    out.extend_from_slice(magic);
    out.extend_from_slice(body);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// The body of a sealed file, or `None` if the magic or checksum is wrong
/// (which includes every truncation).
pub(crate) fn open<'a>(magic: &[u8], bytes: &'a [u8]) -> Option<&'a [u8]> {
    if bytes.len() < magic.len() + SUM_LEN {
        return None;
    }
    let (framed, sum) = bytes.split_at(bytes.len() - SUM_LEN);
    if !framed.starts_with(magic) || Sha256::digest(framed).as_slice() != sum {
        return None;
    }
    framed.get(magic.len()..)
}

/// Appends fixed-width little-endian fields to a buffer.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
    pub(crate) fn opt_str(&mut self, v: Option<&str>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.bytes(v.as_bytes());
            }
        }
    }
}

/// Reads fields written by [`Writer`]; every read is bounds-checked.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    pub(crate) fn remaining(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
    pub(crate) fn opt_u64(&mut self) -> Option<Option<u64>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.u64().map(Some),
            _ => None,
        }
    }
    pub(crate) fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }
    pub(crate) fn str(&mut self) -> Option<String> {
        let b = self.bytes()?;
        std::str::from_utf8(b).ok().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields_round_trip() {
        let mut w = Writer::default();
        w.u8(7);
        w.u64(u64::MAX);
        w.opt_u64(None);
        w.opt_u64(Some(3));
        w.opt_str(Some("é"));
        w.opt_str(None);
        let sealed = seal(b"MAGC", &w.0);
        let body = open(b"MAGC", &sealed).unwrap();
        let mut r = Reader::new(body);
        assert_eq!(r.u8(), Some(7));
        assert_eq!(r.u64(), Some(u64::MAX));
        assert_eq!(r.opt_u64(), Some(None));
        assert_eq!(r.opt_u64(), Some(Some(3)));
        assert_eq!(r.opt_str(), Some(Some("é".to_owned())));
        assert_eq!(r.opt_str(), Some(None));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.u8(), None);
        assert!(open(b"MAGX", &sealed).is_none());
    }

    proptest! {
        #[test]
        fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            while r.remaining() > 0 {
                if r.opt_str().is_none() || r.bytes().is_none() {
                    break;
                }
            }
        }

        #[test]
        fn any_flipped_bit_is_rejected(body in prop::collection::vec(any::<u8>(), 0..64), at in any::<prop::sample::Index>(), bit in 0..8u8) {
            let mut sealed = seal(b"M", &body);
            let i = at.index(sealed.len());
            sealed[i] ^= 1 << bit;
            prop_assert!(open(b"M", &sealed).is_none());
        }
    }
}
