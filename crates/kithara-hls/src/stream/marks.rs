//! The now-playing marks of an HLS stream ([`Source::metadata_marks`](kithara_stream::Source)):
//! the timed metadata of the segments laid out around and ahead of the reader (see `timed.rs`)
//! and the `EXT-X-DATERANGE`s of the played playlist, recorded as `MarkAt::Time` marks on the
//! stream's timeline when the source is asked for them.
//!
//! A segment is looked at once (by media sequence number: laid out again after a seek, or in
//! another variant, it is not): a packed-audio one as soon as its head tag is present, a TS one
//! once it is complete. Date ranges are recorded once per `ID`, for a VOD (a live playlist's
//! timeline moves with each reload).

use std::{
    collections::HashSet,
    sync::{Mutex, MutexGuard, PoisonError},
};

use kithara_stream::{MarkAt, MetadataMarks, Source};

use super::{layout::Piece, timed, HlsSource};

/// How many laid-out pieces behind the reader are looked at again (the reader's read-ahead may
/// have passed a segment before the source was asked).
const BEHIND: usize = 64;
/// The largest head tag read from a packed-audio segment.
const MAX_HEAD_TAG: usize = 64 * 1024;
/// The largest TS segment searched for timed metadata.
const MAX_TS_SEGMENT: u64 = 16 << 20;

/// What has been looked at.
#[derive(Debug, Default)]
pub(crate) struct TimedScan {
    segments: HashSet<u64>,
    dateranges: HashSet<String>,
}

/// The marks and what has been looked at for them.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    pub(crate) list: MetadataMarks,
    scan: Mutex<TimedScan>,
}

impl Marks {
    fn scan(&self) -> MutexGuard<'_, TimedScan> {
        self.scan.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How far a piece can be looked at now.
enum Ready {
    /// Not yet: its bytes are still coming.
    No,
    /// These are its bytes to look at (`None`: nothing to look for in it).
    Bytes(Option<Vec<u8>>),
}

impl HlsSource {
    /// Records the marks of the pieces and date ranges not looked at yet.
    pub(crate) fn record_marks(&self) {
        let mut scan = self.marks.scan();
        let (pieces, played) = {
            let st = self.layout.lock();
            let at = st.entries.partition_point(|e| e.end() <= self.position());
            let from = at.saturating_sub(BEHIND);
            let pieces: Vec<_> = st.entries[from..]
                .iter()
                .filter(|e| matches!(e.piece, Piece::Segment(s) if !scan.segments.contains(&s)))
                .cloned()
                .collect();
            (pieces, self.seekable.then(|| st.played.clone()).flatten())
        };
        for e in pieces {
            let Piece::Segment(seq) = e.piece else {
                continue;
            };
            let bytes = match ready(&e.res) {
                Ready::No => continue,
                Ready::Bytes(b) => b,
            };
            scan.segments.insert(seq);
            let Some(bytes) = bytes else { continue };
            let found = if bytes.first() == Some(&0x47) {
                timed::ts_id3(&bytes)
            } else {
                timed::parse_id3(&bytes)
                    .and_then(|t| t.now_playing)
                    .map(|np| (std::time::Duration::ZERO, np))
                    .into_iter()
                    .collect()
            };
            for (offset, np) in found {
                tracing::debug!(seq, time = ?(e.time + offset), title = ?np.title, "timed metadata");
                self.marks.list.push(MarkAt::Time(e.time + offset), np);
            }
        }
        for tm in played.iter().flat_map(|p| p.timed_metadata.iter()) {
            if scan.dateranges.insert(tm.id.clone()) {
                self.marks
                    .list
                    .push(MarkAt::Time(tm.time), tm.now_playing.clone());
            }
        }
    }
}

/// The bytes of a segment to look at for timed metadata, once they are there: the head tag of a
/// packed-audio segment, a whole TS segment.
fn ready(res: &kithara_storage::StorageResource) -> Ready {
    let present = res.contiguous_end(0).unwrap_or(0);
    let read = |len: u64| {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        match res.read_at(0, &mut buf) {
            Ok(n) if n == buf.len() => Some(buf),
            _ => None,
        }
    };
    if present < 10 {
        return if res.is_complete() {
            Ready::Bytes(None)
        } else {
            Ready::No
        };
    }
    let Some(head) = read(10) else {
        return Ready::Bytes(None);
    };
    if let Some(len) = timed::id3_len(&head).filter(|&l| l <= MAX_HEAD_TAG) {
        let len = len as u64;
        return if present >= len {
            Ready::Bytes(read(len))
        } else {
            Ready::No
        };
    }
    if head[0] != 0x47 {
        return Ready::Bytes(None);
    }
    match res.len() {
        Some(len) if res.is_complete() && len <= MAX_TS_SEGMENT => Ready::Bytes(read(len)),
        _ if res.is_complete() => Ready::Bytes(None),
        _ => Ready::No,
    }
}
