//! `EXT-X-DATERANGE` on the media timeline: its `START-DATE` is placed through the
//! `EXT-X-PROGRAM-DATE-TIME` of the segments (a segment without one continues the date of the
//! one before it by its `EXTINF`; those before the first date count back from it), and its
//! attributes become a [`NowPlaying`].
//!
//! There is no standard attribute for a title: RFC 8216bis leaves `X-` attributes to the client,
//! and hls.js hands them on as they are. A date range names a title when one of its `X-`
//! attributes ends in `TITLE` (`X-TITLE`, `X-COM-EXAMPLE-TITLE`, …), an artist when one ends in
//! `ARTIST`; one that names neither (an ad break's `SCTE35-*`, an interstitial) is not a change
//! of what is playing and is left out. Every attribute is kept as a raw field.

use std::time::Duration;

use kithara_stream::{NowPlaying, RawField};

use super::media::Segment;

/// A change of what is playing at a time of the playlist's timeline, from an `EXT-X-DATERANGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimedMetadata {
    /// The date range's `ID`.
    pub id: String,
    /// Where its `START-DATE` lies on the playlist's timeline (from its first segment).
    pub time: Duration,
    /// What it says is playing.
    pub now_playing: NowPlaying,
}

/// The date ranges of `parsed` (aligned with `segments`) that name a title or an artist, placed
/// on the timeline; those before every known date are left out.
pub(super) fn timed(parsed: &[m3u8_rs::MediaSegment], segments: &[Segment]) -> Vec<TimedMetadata> {
    if parsed.iter().all(|s| s.daterange.is_none()) {
        return Vec::new();
    }
    let dates = segment_dates(parsed, segments);
    parsed
        .iter()
        .filter_map(|s| s.daterange.as_ref())
        .filter_map(|d| {
            let start = d.start_date.timestamp_millis();
            // The last segment dated at or before the start.
            let i = dates
                .iter()
                .rposition(|date| date.is_some_and(|ms| ms <= start))?;
            let from = dates[i]?;
            let into = u64::try_from(start.checked_sub(from)?).ok()?;
            let time = segments[i].start.checked_add(Duration::from_millis(into))?;
            Some(TimedMetadata {
                id: d.id.clone(),
                time,
                now_playing: now_playing(d)?,
            })
        })
        .collect()
}

/// Each segment's date in milliseconds since the epoch, where one follows from the playlist.
fn segment_dates(parsed: &[m3u8_rs::MediaSegment], segments: &[Segment]) -> Vec<Option<i64>> {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let mut dates = vec![None; segments.len()];
    let mut last: Option<(i64, Duration)> = None;
    for (i, (p, s)) in parsed.iter().zip(segments).enumerate() {
        if let Some(pdt) = &p.program_date_time {
            last = Some((pdt.timestamp_millis(), s.start));
        }
        dates[i] = last.and_then(|(date, at)| date.checked_add(ms(s.start.saturating_sub(at))));
    }
    // Before the first date: count back from it.
    if let Some(first) = dates.iter().position(Option::is_some) {
        if let Some(date) = dates[first] {
            let at = segments[first].start;
            for (d, s) in dates.iter_mut().zip(segments).take(first) {
                *d = date.checked_sub(ms(at.saturating_sub(s.start)));
            }
        }
    }
    dates
}

fn now_playing(d: &m3u8_rs::DateRange) -> Option<NowPlaying> {
    let x = d.x_prefixed.as_ref()?;
    let find = |suffix: &str| {
        let mut keys: Vec<_> = x.keys().filter(|k| k.ends_with(suffix)).collect();
        keys.sort();
        keys.first().map(|k| x[*k].as_str().to_owned())
    };
    let (title, artist) = (find("TITLE"), find("ARTIST"));
    if title.is_none() && artist.is_none() {
        return None;
    }
    let mut raw = vec![RawField::new("ID", d.id.clone())];
    raw.extend(d.class.as_ref().map(|c| RawField::new("CLASS", c.clone())));
    let mut attrs: Vec<_> = x.iter().collect();
    attrs.sort_by(|a, b| a.0.cmp(b.0));
    raw.extend(
        attrs
            .into_iter()
            .map(|(k, v)| RawField::new(k.clone(), v.as_str())),
    );
    let np = title.map_or_else(NowPlaying::default, NowPlaying::titled);
    Some(np.with_artist(artist).with_raw(raw))
}
