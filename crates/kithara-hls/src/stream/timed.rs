//! Timed metadata in segments: an ID3 tag at the head of a packed-audio segment (its
//! `com.apple.streaming.transportStreamTimestamp` PRIV frame gives the PTS of the segment's first
//! frame), and ID3 tags carried as a timed-metadata stream in MPEG-TS (stream type 0x15, in PES
//! packets with their own PTS). Each becomes a [`NowPlaying`] at an offset from the segment's
//! start: 0 for a head tag, the PES's PTS less the segment's first audio PTS for a TS one.
//!
//! Only what names a title or an artist (`TIT2`, `TPE1`) is a change of what is playing: a tag
//! with a timestamp only (every Apple packed-audio segment carries one) is not.

use std::time::Duration;

use kithara_stream::{NowPlaying, RawField};

/// The owner of the PRIV frame that carries a packed-audio segment's timestamp.
const TS_OWNER: &[u8] = b"com.apple.streaming.transportStreamTimestamp";
/// The most frames read from one tag (a tag is untrusted input).
const MAX_FRAMES: usize = 64;
const TS_PACKET: usize = 188;
/// MPEG-TS stream type of ID3 timed metadata in PES (ISO/IEC 13818-1 "metadata in PES").
const STREAM_TYPE_ID3: u8 = 0x15;
/// The 33-bit PTS wraps here.
const PTS_WRAP: u64 = 1 << 33;

/// What an ID3 tag says: the now-playing (when it names a title or an artist) and the PRIV
/// timestamp (90 kHz), if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Id3 {
    pub(crate) now_playing: Option<NowPlaying>,
    pub(crate) pts: Option<u64>,
}

/// The length of the ID3v2 tag at the head of `b` (header and body), if `b` starts with one.
pub(crate) fn id3_len(b: &[u8]) -> Option<usize> {
    let h = b.get(..10)?;
    if &h[..3] != b"ID3" || !(3..=4).contains(&h[3]) || h[6..10].iter().any(|&x| x & 0x80 != 0) {
        return None;
    }
    let size = h[6..10]
        .iter()
        .fold(0usize, |acc, &x| (acc << 7) | usize::from(x));
    size.checked_add(10)
}

/// Parses the ID3v2.3/2.4 tag at the head of `b` (whole in `b`); `None` if there is none.
pub(crate) fn parse_id3(b: &[u8]) -> Option<Id3> {
    let len = id3_len(b)?;
    let body = b.get(10..len)?;
    let v4 = b[3] == 4;
    let mut out = Id3::default();
    let (mut title, mut artist, mut url, mut raw) = (None, None, None, Vec::new());
    let mut rest = body;
    for _ in 0..MAX_FRAMES {
        let Some(h) = rest.get(..10) else { break };
        if h[0] == 0 {
            break; // padding
        }
        let size = if v4 {
            h[4..8]
                .iter()
                .fold(0usize, |a, &x| (a << 7) | usize::from(x & 0x7F))
        } else {
            h[4..8]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x))
        };
        let Some(data) = size.checked_add(10).and_then(|end| rest.get(10..end)) else {
            break;
        };
        let id = String::from_utf8_lossy(&h[..4]).into_owned();
        match &h[..4] {
            b"PRIV" => {
                if let Some(ts) = data
                    .strip_prefix(TS_OWNER)
                    .and_then(|d| d.strip_prefix(b"\0"))
                {
                    out.pts = ts
                        .get(..8)
                        .and_then(|p| p.try_into().ok())
                        .map(|p| u64::from_be_bytes(p) & (PTS_WRAP - 1));
                }
            }
            b"TIT2" => title = text(data),
            b"TPE1" => artist = text(data),
            b"WXXX" => url = wxxx(data),
            _ => {}
        }
        raw.push(RawField::new(id, data.to_vec()));
        rest = &rest[10 + size..];
    }
    if title.is_some() || artist.is_some() {
        let np = title.map_or_else(NowPlaying::default, NowPlaying::titled);
        out.now_playing = Some(np.with_artist(artist).with_url(url).with_raw(raw));
    }
    Some(out)
}

/// A text frame's value: its encoding byte, then the text (the first of several, NUL-separated).
fn text(data: &[u8]) -> Option<String> {
    let (&enc, s) = data.split_first()?;
    let t = decode(enc, s);
    let t = t.split('\0').next().unwrap_or("").trim().to_owned();
    (!t.is_empty()).then_some(t)
}

/// A `WXXX` frame's URL: encoding, description (terminated), then the URL in ISO-8859-1.
fn wxxx(data: &[u8]) -> Option<String> {
    let (&enc, s) = data.split_first()?;
    let wide = enc == 1 || enc == 2;
    let end = if wide {
        s.chunks_exact(2)
            .position(|c| c == [0, 0])
            .map(|i| i * 2 + 2)
    } else {
        s.iter().position(|&c| c == 0).map(|i| i + 1)
    }?;
    let u = decode(0, s.get(end..)?).trim_end_matches('\0').to_owned();
    (!u.is_empty()).then_some(u)
}

fn decode(enc: u8, s: &[u8]) -> String {
    match enc {
        0 => s.iter().map(|&c| char::from(c)).collect(),
        1 | 2 => {
            let (be, s) = match s {
                [0xFE, 0xFF, rest @ ..] => (true, rest),
                [0xFF, 0xFE, rest @ ..] => (false, rest),
                _ => (enc == 2, s),
            };
            let units = s.chunks_exact(2).map(|c| {
                let (a, b) = (u16::from(c[0]), u16::from(c[1]));
                if be {
                    a << 8 | b
                } else {
                    b << 8 | a
                }
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => String::from_utf8_lossy(s).into_owned(),
    }
}

/// The ID3 tags of an MPEG-TS segment's timed-metadata stream, each with its offset from the
/// segment's first audio PES (by their PTS); tags without a title or artist are left out.
pub(crate) fn ts_id3(seg: &[u8]) -> Vec<(Duration, NowPlaying)> {
    let mut pmt_pid = None;
    let mut id3_pids: Vec<u16> = Vec::new();
    let mut audio_pts: Option<u64> = None;
    let mut tags: Vec<(Option<u64>, Vec<u8>)> = Vec::new();
    let mut open: Option<usize> = None;
    for p in seg.chunks_exact(TS_PACKET) {
        if p[0] != 0x47 {
            continue;
        }
        let pid = u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]);
        let start = p[1] & 0x40 != 0;
        let payload = match (p[3] >> 4) & 0x3 {
            1 => &p[4..],
            3 => match p.get(5 + usize::from(p[4])..) {
                Some(pl) => pl,
                None => continue,
            },
            _ => continue,
        };
        if pid == 0 && start {
            pmt_pid = pat_pmt_pid(payload).or(pmt_pid);
        } else if Some(pid) == pmt_pid && start {
            id3_pids = pmt_id3_pids(payload);
        } else if id3_pids.contains(&pid) {
            if start {
                let Some((pts, body)) = pes(payload) else {
                    continue;
                };
                tags.push((pts, body.to_vec()));
                open = Some(tags.len() - 1);
            } else if let Some(i) = open {
                tags[i].1.extend_from_slice(payload);
            }
        } else if start && audio_pts.is_none() && pid != 0 && Some(pid) != pmt_pid {
            audio_pts = pes(payload).and_then(|(pts, _)| pts);
        }
    }
    tags.into_iter()
        .filter_map(|(pts, body)| {
            let np = parse_id3(&body)?.now_playing?;
            let at = match (pts, audio_pts) {
                (Some(t), Some(a)) => pts_diff(t, a),
                _ => Duration::ZERO,
            };
            Some((at, np))
        })
        .collect()
}

/// `t − a` at 90 kHz across the 33-bit wrap; zero when `t` is before `a`.
fn pts_diff(t: u64, a: u64) -> Duration {
    let d = t.wrapping_sub(a) & (PTS_WRAP - 1);
    if d >= PTS_WRAP / 2 {
        return Duration::ZERO;
    }
    Duration::from_nanos(d * 100_000 / 9)
}

/// The PMT PID of the first program in a PAT section.
fn pat_pmt_pid(pl: &[u8]) -> Option<u16> {
    let s = pl.get(1 + usize::from(*pl.first()?)..)?;
    let prog = s.get(8..12)?;
    Some(u16::from(prog[2] & 0x1F) << 8 | u16::from(prog[3]))
}

/// The elementary PIDs of stream type 0x15 in a PMT section.
fn pmt_id3_pids(pl: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let Some(s) = pl.first().and_then(|&f| pl.get(1 + usize::from(f)..)) else {
        return out;
    };
    let Some(h) = s.get(..12) else { return out };
    let section_end = (usize::from(h[1] & 0x0F) << 8 | usize::from(h[2])) + 3;
    let info_len = usize::from(h[10] & 0x0F) << 8 | usize::from(h[11]);
    let mut i = 12 + info_len;
    // The CRC's 4 bytes end the section.
    let end = section_end.saturating_sub(4).min(s.len());
    while i + 5 <= end {
        let es = &s[i..i + 5];
        if es[0] == STREAM_TYPE_ID3 {
            out.push(u16::from(es[1] & 0x1F) << 8 | u16::from(es[2]));
        }
        i += 5 + (usize::from(es[3] & 0x0F) << 8 | usize::from(es[4]));
    }
    out
}

/// A PES packet's PTS (if it has one) and the payload after its header.
fn pes(pl: &[u8]) -> Option<(Option<u64>, &[u8])> {
    if pl.get(..3)? != [0, 0, 1] {
        return None;
    }
    let flags = *pl.get(7)?;
    let header_len = usize::from(*pl.get(8)?);
    let pts = (flags & 0x80 != 0)
        .then(|| pl.get(9..14))
        .flatten()
        .map(|b| {
            (u64::from(b[0] >> 1) & 0x7) << 30
                | u64::from(b[1]) << 22
                | (u64::from(b[2]) >> 1) << 15
                | u64::from(b[3]) << 7
                | u64::from(b[4]) >> 1
        });
    Some((pts, pl.get(9 + header_len..)?))
}

#[cfg(test)]
mod tests;
