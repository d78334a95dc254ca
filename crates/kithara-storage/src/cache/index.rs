//! [`AssetIndex`]: the persistent description of one cached asset (which
//! byte ranges of its data file are real, its total length, validators and
//! last use), and its on-disk encoding.
//!
//! The encoding is a sealed binary record (see `codec.rs`): a truncated,
//! garbage or misplaced file decodes to `None`, and decoding also rejects a
//! record whose fields contradict each other (ranges beyond the total
//! length, a completion flag that the ranges do not back).

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::codec::{self, Reader, Writer};
use super::key::AssetId;
use crate::RangeSet;

/// Magic of an index file, format version 1.
const MAGIC: &[u8] = b"KITHIDX\x01";

/// `body` sealed as an index file (for the fuzz target).
#[cfg(fuzzing)]
pub(crate) fn seal_for_fuzzing(body: &[u8]) -> Vec<u8> {
    codec::seal(MAGIC, body)
}

/// Most ranges an index may hold; a file claiming more is garbage.
const MAX_RANGES: u64 = 1 << 22;

/// HTTP validators and content type of the cached version of an asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validators {
    /// `ETag` response header, verbatim (with quotes and `W/`).
    pub etag: Option<String>,
    /// `Last-Modified` response header, verbatim.
    pub last_modified: Option<String>,
    /// `Content-Type` response header, verbatim.
    pub content_type: Option<String>,
}

impl Validators {
    /// Validators from the three header values.
    pub fn new(
        etag: Option<String>,
        last_modified: Option<String>,
        content_type: Option<String>,
    ) -> Self {
        Self {
            etag,
            last_modified,
            content_type,
        }
    }

    /// The value for an `If-Range` header: the ETag if it is strong, else
    /// `Last-Modified` (RFC 9110 forbids weak ETags in `If-Range`).
    pub fn if_range(&self) -> Option<&str> {
        match &self.etag {
            Some(e) if !e.starts_with("W/") => Some(e),
            _ => self.last_modified.as_deref(),
        }
    }
}

/// What the cache knows about one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetIndex {
    pub(crate) id: AssetId,
    pub(crate) label: String,
    pub(crate) present: RangeSet,
    pub(crate) total_len: Option<u64>,
    pub(crate) validators: Validators,
    pub(crate) last_access: SystemTime,
    pub(crate) validated_at: Option<SystemTime>,
}

impl AssetIndex {
    /// An empty index: nothing present, nothing known.
    pub(crate) fn empty(id: AssetId, label: String) -> Self {
        Self {
            id,
            label,
            present: RangeSet::new(),
            total_len: None,
            validators: Validators::default(),
            last_access: SystemTime::now(),
            validated_at: None,
        }
    }

    /// Identity of the asset.
    pub fn id(&self) -> AssetId {
        self.id
    }
    /// Redacted URL of the asset.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// Byte ranges of the data file that were written, synced and recorded.
    pub fn present(&self) -> &RangeSet {
        &self.present
    }
    /// Total length in bytes, once known.
    pub fn total_len(&self) -> Option<u64> {
        self.total_len
    }
    /// Validators of the cached version.
    pub fn validators(&self) -> &Validators {
        &self.validators
    }
    /// When the asset was last opened or touched.
    pub fn last_access(&self) -> SystemTime {
        self.last_access
    }
    /// When the cached version was last confirmed by the server, if ever.
    pub fn validated_at(&self) -> Option<SystemTime> {
        self.validated_at
    }
    /// Whether every byte of the asset is present.
    pub fn is_complete(&self) -> bool {
        self.total_len
            .is_some_and(|len| self.present.contains(0..len))
    }
    /// Fraction of the asset present, in percent, once the length is known.
    pub fn percent_complete(&self) -> Option<f64> {
        percent(self.present.covered(), self.total_len)
    }
    /// Whether the last validation is younger than `freshness` at `now`.
    pub fn is_fresh(&self, freshness: Duration, now: SystemTime) -> bool {
        self.validated_at
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age < freshness)
    }
    /// The missing parts of `0..total_len` (or after the last present byte,
    /// open-ended as `..u64::MAX`, while the length is unknown).
    pub fn missing(&self) -> Vec<Range<u64>> {
        self.present.gaps(0..self.total_len.unwrap_or(u64::MAX))
    }

    /// Encodes the index into its sealed on-disk form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.0.extend_from_slice(self.id.as_bytes());
        w.bytes(self.label.as_bytes());
        w.opt_u64(self.total_len);
        w.opt_str(self.validators.etag.as_deref());
        w.opt_str(self.validators.last_modified.as_deref());
        w.opt_str(self.validators.content_type.as_deref());
        w.u64(to_nanos(self.last_access));
        w.opt_u64(self.validated_at.map(to_nanos));
        w.u8(u8::from(self.is_complete()));
        w.u64(self.present.range_count() as u64);
        for r in self.present.iter() {
            w.u64(r.start);
            w.u64(r.end);
        }
        codec::seal(MAGIC, &w.0)
    }

    /// Decodes a sealed index; `None` if it is damaged, inconsistent or
    /// belongs to another asset than `expect` (when given).
    pub(crate) fn decode(bytes: &[u8], expect: Option<AssetId>) -> Option<Self> {
        let mut r = Reader::new(codec::open(MAGIC, bytes)?);
        let mut id = [0u8; 32];
        for b in &mut id {
            *b = r.u8()?;
        }
        let id = AssetId::from_bytes(id);
        if expect.is_some_and(|e| e != id) {
            return None;
        }
        let label = r.str()?;
        let total_len = r.opt_u64()?;
        let validators = Validators::new(r.opt_str()?, r.opt_str()?, r.opt_str()?);
        let last_access = from_nanos(r.u64()?);
        let validated_at = r.opt_u64()?.map(from_nanos);
        let complete = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let count = r.u64()?;
        if count > MAX_RANGES || count.saturating_mul(16) != r.remaining() as u64 {
            return None;
        }
        let mut present = RangeSet::new();
        let mut prev_end = None;
        for _ in 0..count {
            let (start, end) = (r.u64()?, r.u64()?);
            // Stored ranges are sorted, disjoint and non-adjacent.
            if start >= end || prev_end.is_some_and(|p| start <= p) {
                return None;
            }
            if total_len.is_some_and(|len| end > len) {
                return None;
            }
            prev_end = Some(end);
            present.insert(start..end);
        }
        let index = Self {
            id,
            label,
            present,
            total_len,
            validators,
            last_access,
            validated_at,
        };
        (index.is_complete() == complete).then_some(index)
    }
}

/// `present / total` in percent.
pub(crate) fn percent(present: u64, total: Option<u64>) -> Option<f64> {
    total.map(|t| {
        if t == 0 {
            100.0
        } else {
            present as f64 * 100.0 / t as f64
        }
    })
}

fn to_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn from_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> AssetIndex {
        let mut i = AssetIndex::empty(AssetId::from_bytes([7; 32]), "http://h/a".into());
        i.total_len = Some(1000);
        i.present.insert(0..100);
        i.present.insert(200..300);
        i.validators = Validators::new(Some("\"e1\"".into()), Some("Mon".into()), None);
        i.validated_at = Some(from_nanos(5));
        i
    }

    #[test]
    fn round_trips_and_reports() {
        let i = sample();
        let d = AssetIndex::decode(&i.encode(), Some(i.id)).unwrap();
        assert_eq!(d, i);
        assert!(!d.is_complete());
        assert_eq!(d.percent_complete(), Some(20.0));
        assert_eq!(d.missing(), vec![100..200, 300..1000]);
        assert_eq!(d.validators.if_range(), Some("\"e1\""));
        assert!(AssetIndex::decode(&i.encode(), Some(AssetId::from_bytes([8; 32]))).is_none());
    }

    #[test]
    fn if_range_prefers_strong_etag() {
        let v = Validators::new(Some("W/\"x\"".into()), Some("Tue".into()), None);
        assert_eq!(v.if_range(), Some("Tue"));
        assert_eq!(Validators::default().if_range(), None);
    }

    #[test]
    fn freshness() {
        let mut i = sample();
        let now = from_nanos(10_000_000_000);
        i.validated_at = Some(from_nanos(9_000_000_000));
        assert!(i.is_fresh(Duration::from_secs(2), now));
        assert!(!i.is_fresh(Duration::from_millis(500), now));
        i.validated_at = None;
        assert!(!i.is_fresh(Duration::MAX, now));
    }

    #[test]
    fn every_truncation_is_rejected() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(
                AssetIndex::decode(&bytes[..cut], None).is_none(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn inconsistent_records_are_rejected() {
        // A range beyond the length, sealed with a valid checksum.
        let mut i = sample();
        i.total_len = None;
        i.present.insert(900..2000);
        let mut bytes = i.encode();
        let body = codec::open(MAGIC, &bytes).unwrap().to_vec();
        let mut w = Writer(body);
        // Patch total_len (right after id and label) to Some(1000).
        let at = 32 + 8 + i.label.len();
        w.0.splice(at..at + 1, [1u8, 232, 3, 0, 0, 0, 0, 0, 0]);
        bytes = codec::seal(MAGIC, &w.0);
        assert!(AssetIndex::decode(&bytes, None).is_none());
    }

    proptest! {
        #[test]
        fn round_trip_any(
            ranges in prop::collection::vec((0..10_000u64, 1..500u64), 0..20),
            len in prop::option::of(10_500..20_000u64),
            etag in prop::option::of(".{0,20}"),
            access in any::<u64>(),
        ) {
            let mut i = AssetIndex::empty(AssetId::from_bytes([1; 32]), "l".into());
            for (s, l) in ranges {
                i.present.insert(s..s + l);
            }
            i.total_len = len;
            i.validators.etag = etag;
            i.last_access = from_nanos(access);
            let d = AssetIndex::decode(&i.encode(), Some(i.id));
            prop_assert_eq!(d, Some(i));
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = AssetIndex::decode(&bytes, None);
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            prop_assert!(AssetIndex::decode(&framed, None).is_none());
        }

        #[test]
        fn resealed_garbage_body_never_panics(body in prop::collection::vec(any::<u8>(), 0..300)) {
            // Valid checksum around a random body exercises every field check.
            if let Some(i) = AssetIndex::decode(&codec::seal(MAGIC, &body), None) {
                prop_assert!(i.total_len.is_none_or(|l| i.present.max_end() <= l));
            }
        }
    }
}
