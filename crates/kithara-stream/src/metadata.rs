//! What a stream says about what is playing, and where in the stream it takes effect.
//!
//! In-band metadata arrives ahead of the audio it describes: an ICY block sits in the body before
//! the bytes it titles, an ID3 tag in an HLS segment is fetched seconds before its media time is
//! heard. A source records each change as a [`MetadataMark`] at the place it takes effect (a byte
//! of its byte space, or a media time) in a [`MetadataMarks`] list, and answers
//! [`Source::metadata_marks`](crate::Source::metadata_marks); the decoder reports a mark with the
//! first audio at or after that place, so that a player announces a title when it is heard, not
//! when it was downloaded.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// Where a [`MetadataMark`] takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MarkAt {
    /// At this byte of the stream's byte space (for ICY: the first audio byte after the block,
    /// counted without the blocks).
    Byte(u64),
    /// At this media time (HLS timed metadata: an ID3 tag's timestamp, an `EXT-X-DATERANGE`'s
    /// start mapped onto the playlist's timeline).
    Time(Duration),
}

/// One field as the source carried it: an ICY field (`StreamTitle`), an ID3 frame (`TIT2`,
/// `PRIV`), a Vorbis comment or an `EXT-X-DATERANGE` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawField {
    /// The field's name or frame id.
    pub key: String,
    /// Its value, as carried (text fields as their UTF-8 bytes).
    pub value: Vec<u8>,
}

impl RawField {
    /// A field `key` with `value`.
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// What is playing, as far as the stream says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NowPlaying {
    /// The title (ICY `StreamTitle`, ID3 `TIT2`, Vorbis `TITLE`, …).
    pub title: Option<String>,
    /// The artist, when the source names one apart from the title.
    pub artist: Option<String>,
    /// A link that goes with it (ICY `StreamUrl`, ID3 `WXXX`).
    pub url: Option<String>,
    /// Every field as carried, for what the named ones do not cover.
    pub raw: Vec<RawField>,
}

impl NowPlaying {
    /// Now-playing with a title only.
    pub fn titled(title: impl Into<String>) -> Self {
        Self {
            title: Some(title.into()),
            ..Self::default()
        }
    }

    /// Sets the artist.
    pub fn with_artist(mut self, artist: Option<String>) -> Self {
        self.artist = artist;
        self
    }

    /// Sets the link.
    pub fn with_url(mut self, url: Option<String>) -> Self {
        self.url = url;
        self
    }

    /// Sets the raw fields.
    pub fn with_raw(mut self, raw: Vec<RawField>) -> Self {
        self.raw = raw;
        self
    }
}

/// A change of what is playing, at the place in the stream where it takes effect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataMark {
    /// The mark's number in its stream: 0, 1, 2, … in the order the source recorded them. A
    /// reader asks for the marks from the one after the last it saw.
    pub seq: u64,
    /// Where it takes effect.
    pub at: MarkAt,
    /// What is playing from there on.
    pub now_playing: NowPlaying,
}

/// How many marks a [`MetadataMarks`] keeps by default: the oldest go first, so that an endless
/// stream holds bounded memory.
pub const DEFAULT_MARKS_KEPT: usize = 256;

#[derive(Debug)]
struct Marks {
    kept: VecDeque<MetadataMark>,
    next_seq: u64,
    capacity: usize,
}

/// The marks a source recorded, shared between the side that finds them (a download task) and the
/// source that answers them. Cheap to clone; bounded (the oldest marks are dropped first).
#[derive(Debug, Clone)]
pub struct MetadataMarks {
    inner: Arc<Mutex<Marks>>,
}

impl Default for MetadataMarks {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MARKS_KEPT)
    }
}

impl MetadataMarks {
    /// An empty list that keeps at most `capacity` marks (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Marks {
                kept: VecDeque::new(),
                next_seq: 0,
                capacity: capacity.max(1),
            })),
        }
    }

    /// Records that `now_playing` takes effect `at`; returns the mark's number.
    pub fn push(&self, at: MarkAt, now_playing: NowPlaying) -> u64 {
        let mut m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = m.next_seq;
        m.next_seq = m.next_seq.saturating_add(1);
        if m.kept.len() == m.capacity {
            m.kept.pop_front();
        }
        m.kept.push_back(MetadataMark {
            seq,
            at,
            now_playing,
        });
        seq
    }

    /// The marks kept whose number is `from` or later, in order.
    pub fn since(&self, from: u64) -> Vec<MetadataMark> {
        let m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        m.kept.iter().filter(|k| k.seq >= from).cloned().collect()
    }

    /// The number the next mark will get (how many were recorded in all).
    pub fn next_seq(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_numbered_in_order_and_the_oldest_go_first() {
        let marks = MetadataMarks::with_capacity(2);
        for (i, t) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(
                marks.push(MarkAt::Byte(i as u64 * 10), NowPlaying::titled(t)),
                i as u64
            );
        }
        let kept = marks.since(0);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].seq, 1);
        assert_eq!(kept[1].now_playing.title.as_deref(), Some("c"));
        assert_eq!(marks.since(2).len(), 1);
        assert!(marks.since(3).is_empty());
        assert_eq!(marks.next_seq(), 3);
    }
}
