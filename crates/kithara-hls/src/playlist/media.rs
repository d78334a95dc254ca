//! The media playlist: segments with absolute URLs, exact durations, byte ranges, keys and init
//! sections.

use std::ops::Range;
use std::time::Duration;

use kithara_stream::RedactedUrl;
use url::Url;

use super::{
    bad, extinf,
    prepare::{keys_at, Prepared},
    resolve, SegmentId,
};
use crate::error::{Error, Result};
use crate::keys::{self, SegmentKey};

/// The longest presentation a playlist may describe: about 136 years, far beyond any real one,
/// and far enough below `Duration::MAX` that times and sums built on it cannot overflow.
pub(crate) const MAX_PLAYLIST_DURATION: Duration = Duration::from_secs(u32::MAX as u64);

/// The largest `EXT-X-TARGETDURATION` accepted: a day. Reload intervals and start offsets are
/// multiples of it, so a bound keeps their arithmetic in range.
pub(crate) const MAX_TARGET_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// A media playlist.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MediaPlaylist {
    /// The URL the playlist was served from (after redirects).
    pub url: Url,
    /// `EXT-X-TARGETDURATION`.
    pub target_duration: Duration,
    /// `EXT-X-MEDIA-SEQUENCE`: the sequence number of the first segment.
    pub media_sequence: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE`: the discontinuity number of the first segment.
    pub discontinuity_sequence: u64,
    /// `EXT-X-ENDLIST`: no segment will be added (VOD, or a live stream that ended).
    pub end_list: bool,
    /// The segments, in play order; never empty.
    pub segments: Vec<Segment>,
    /// The `EXT-X-DATERANGE`s that name a title or an artist, placed on the timeline (see
    /// [`TimedMetadata`](super::TimedMetadata)).
    pub timed_metadata: Vec<super::TimedMetadata>,
}

/// One media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Segment {
    /// Media sequence number.
    pub sequence: u64,
    /// Discontinuity sequence number (counts the `EXT-X-DISCONTINUITY` tags before it).
    pub discontinuity_sequence: u64,
    /// Absolute URL, with its own query string.
    pub url: Url,
    /// `EXTINF`, exact to the nanosecond.
    pub duration: Duration,
    /// Start time: the sum of the durations of the segments before it in this playlist.
    pub start: Duration,
    /// `EXT-X-BYTERANGE`, resolved to absolute offsets (`None`: the whole resource).
    pub byte_range: Option<Range<u64>>,
    /// `EXT-X-DISCONTINUITY` precedes this segment.
    pub discontinuity: bool,
    /// The AES-128 key in force (`None`: clear).
    pub key: Option<SegmentKey>,
    /// The `EXT-X-MAP` init section in force.
    pub init: Option<InitSection>,
}

/// An `EXT-X-MAP` init section (fMP4 `ftyp`+`moov`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InitSection {
    /// Absolute URL.
    pub url: Url,
    /// `BYTERANGE` (`None`: the whole resource).
    pub byte_range: Option<Range<u64>>,
}

impl InitSection {
    /// The identity of this init section (URL and byte range), for storage keys.
    pub fn id(&self) -> SegmentId {
        SegmentId::new(self.url.clone(), self.byte_range.clone())
    }
}

impl Segment {
    /// The identity of this segment (URL and byte range), for storage keys.
    pub fn id(&self) -> SegmentId {
        SegmentId::new(self.url.clone(), self.byte_range.clone())
    }

    /// End time: `start + duration`.
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }

    /// The IV to decrypt this segment with, if it is encrypted.
    pub fn iv(&self) -> Option<[u8; keys::KEY_LEN]> {
        self.key.as_ref().map(|k| k.iv_for(self.sequence))
    }
}

impl MediaPlaylist {
    /// The exact sum of the segments' `EXTINF`.
    pub fn duration(&self) -> Duration {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// Whether more segments may come (`EXT-X-ENDLIST` absent).
    pub fn is_live(&self) -> bool {
        !self.end_list
    }

    /// Index of the segment holding time `t` (from the start of this playlist): the last segment
    /// starting at or before `t`; `None` when `t` is at or past the end.
    pub fn segment_at(&self, t: Duration) -> Option<usize> {
        if t >= self.duration() {
            return None;
        }
        let after = self.segments.partition_point(|s| s.start <= t);
        after.checked_sub(1)
    }

    /// The segment with media sequence number `sequence`, if the playlist still lists it.
    pub fn segment_by_sequence(&self, sequence: u64) -> Option<&Segment> {
        let i = sequence.checked_sub(self.media_sequence)?;
        self.segments.get(usize::try_from(i).ok()?)
    }
}

pub(super) fn parse(prepared: &Prepared, url: &Url) -> Result<MediaPlaylist> {
    let text = prepared.text.as_str();
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).map_err(|e| {
        bad(
            url,
            "playlist",
            format!("media playlist does not parse: {e:?}"),
        )
    })?;
    if parsed.segments.is_empty() {
        return Err(Error::NoSegments {
            url: RedactedUrl::new(url),
        });
    }
    let durations = extinf::durations(text)
        .map_err(|v| bad(url, "EXTINF", format!("{v:?} is not a number of seconds")))?;
    if durations.len() != parsed.segments.len() {
        return Err(bad(
            url,
            "EXTINF",
            format!(
                "{} EXTINF tags for {} segments",
                durations.len(),
                parsed.segments.len()
            ),
        ));
    }

    let mut segments = Vec::with_capacity(parsed.segments.len());
    let mut init: Option<InitSection> = None;
    // Where the previous EXT-X-BYTERANGE of each resource ended (the implicit offset rule).
    let mut last_range: Option<(Url, u64)> = None;
    let mut discontinuity_sequence = parsed.discontinuity_sequence;
    let mut start = Duration::ZERO;
    for (i, (s, duration)) in parsed.segments.iter().zip(durations).enumerate() {
        let sequence = parsed
            .media_sequence
            .checked_add(i as u64)
            .ok_or_else(|| bad(url, "EXT-X-MEDIA-SEQUENCE", "sequence number overflows"))?;
        let seg_url = resolve(url, &s.uri)?;
        let key = match keys_at(prepared, i) {
            Some(k) => keys::from_tag(k, url)?,
            None => None,
        };
        if let Some(t) = s.unknown_tags.iter().find(|t| malformed(t)) {
            return Err(bad(
                url,
                "playlist",
                format!("#EXT-{}:{}", t.tag, t.rest.as_deref().unwrap_or("")),
            ));
        }
        if let Some(m) = &s.map {
            let map_url = resolve(url, &m.uri)?;
            let byte_range = match &m.byte_range {
                // EXT-X-MAP's BYTERANGE has no implicit offset: a missing one means 0.
                Some(r) => Some(absolute(url, "EXT-X-MAP", r.offset.unwrap_or(0), r.length)?),
                None => None,
            };
            init = Some(InitSection {
                url: map_url,
                byte_range,
            });
        }
        let byte_range = match &s.byte_range {
            Some(r) => {
                let offset = match r.offset {
                    Some(o) => o,
                    // No offset: the range follows the previous sub-range of the same resource.
                    None => match &last_range {
                        Some((prev, end)) if *prev == seg_url => *end,
                        _ => {
                            return Err(bad(
                                url,
                                "EXT-X-BYTERANGE",
                                format!(
                                    "no offset for {} and no previous range of the same resource",
                                    s.uri
                                ),
                            ))
                        }
                    },
                };
                let range = absolute(url, "EXT-X-BYTERANGE", offset, r.length)?;
                last_range = Some((seg_url.clone(), range.end));
                Some(range)
            }
            None => {
                last_range = None;
                None
            }
        };
        if s.discontinuity {
            discontinuity_sequence = discontinuity_sequence.saturating_add(1);
        }
        segments.push(Segment {
            sequence,
            discontinuity_sequence,
            url: seg_url,
            duration,
            start,
            byte_range,
            discontinuity: s.discontinuity,
            key: key.clone(),
            init: init.clone(),
        });
        start = start
            .checked_add(duration)
            .filter(|end| *end <= MAX_PLAYLIST_DURATION)
            .ok_or_else(|| {
                bad(
                    url,
                    "EXTINF",
                    format!(
                        "segments last more than {} s in all",
                        MAX_PLAYLIST_DURATION.as_secs()
                    ),
                )
            })?;
    }
    let target_duration = Duration::from_secs(parsed.target_duration);
    if target_duration > MAX_TARGET_DURATION {
        return Err(bad(
            url,
            "EXT-X-TARGETDURATION",
            format!(
                "{} s is longer than the {} s accepted",
                parsed.target_duration,
                MAX_TARGET_DURATION.as_secs()
            ),
        ));
    }
    let timed_metadata = super::daterange::timed(&parsed.segments, &segments);
    Ok(MediaPlaylist {
        timed_metadata,
        url: url.clone(),
        target_duration,
        media_sequence: parsed.media_sequence,
        discontinuity_sequence: parsed.discontinuity_sequence,
        end_list: parsed.end_list,
        segments,
    })
}

/// A segment tag that `m3u8-rs` could not parse (it keeps those as unknown tags) and that must
/// not be dropped silently: a malformed `EXT-X-MAP` or `EXT-X-BYTERANGE`. (`EXT-X-KEY` tags are
/// read by the preparation, per key format.)
fn malformed(t: &m3u8_rs::ExtTag) -> bool {
    matches!(t.tag.as_str(), "X-MAP" | "X-BYTERANGE")
}

fn absolute(url: &Url, tag: &'static str, offset: u64, length: u64) -> Result<Range<u64>> {
    if length == 0 {
        return Err(bad(url, tag, "empty byte range"));
    }
    let end = offset
        .checked_add(length)
        .ok_or_else(|| bad(url, tag, format!("{length}@{offset} overflows")))?;
    Ok(offset..end)
}
