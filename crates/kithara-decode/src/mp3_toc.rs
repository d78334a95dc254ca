//! The seek table of a variable-bitrate MPEG audio file (a `Xing` tag's TOC or a `VBRI` table),
//! and what it can and cannot tell about where a frame lies.
//!
//! A table is a list of points: "the frame at this fraction of the file's frames starts near this
//! byte". A `Xing` TOC has 100 points (at 0 %, 1 %, … 99 % of the frames), each byte quantised
//! to 1/256 of the stream's length; a `VBRI` table has one point every `frames per entry` frames,
//! each segment's length divided by a scale factor. Between points the table says nothing: a
//! seek interpolates, and the frame it lands on is known only within the two points around it.
//!
//! [`Toc::locate`] turns that into a bound that holds as long as every point lies within its
//! stated slack of the truth (the table's quantisation, plus the tag frame itself, which
//! encoders count differently): the frame that starts at byte `p` is after every point that
//! surely lies at or before `p`, and before every point that surely lies after it.

use crate::mp3_frame::Header;

/// One point of a table: the frame at `frames_x100 / 100` starts `slack` bytes or less from
/// `byte` (an absolute stream position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    frames_x100: u64,
    byte: u64,
    slack: u64,
}

/// Where a seek by the table landed, in MPEG frames from the first audio frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located {
    /// The table's estimate (interpolated between the two points around the byte).
    pub(crate) estimate: u64,
    /// The frame is surely at or after this one.
    pub(crate) earliest: u64,
    /// The frame is surely at or before this one.
    pub(crate) latest: u64,
}

/// A variable-bitrate file's seek table, points in increasing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Toc {
    points: Vec<Point>,
    /// MPEG frames in the file, as the tag declares.
    pub(crate) frames: u64,
}

/// Offset of a `VBRI` tag in its frame (after the header and 32 bytes), as every encoder writes it.
pub(crate) const VBRI_OFFSET: usize = 36;

impl Toc {
    /// The TOC of a `Xing` tag at `tag[0..]` (the `Xing` magic first) in the frame `first` that
    /// starts at byte `start`; `None` without frame count or TOC, or with a TOC that goes back.
    /// `len` is the stream's length, for a tag that leaves out the byte count.
    pub(crate) fn xing(tag: &[u8], start: u64, first: &Header, len: Option<u64>) -> Option<Self> {
        let flags = be32(tag, 4)?;
        let mut at = 8;
        let mut field = |bit: u32, size: usize| {
            (flags & bit != 0).then(|| {
                let v = at;
                at += size;
                v
            })
        };
        let frames_at = field(1, 4)?;
        let bytes_at = field(2, 4);
        let toc_at = field(4, 100)?;
        let frames = u64::from(be32(tag, frames_at)?);
        let bytes = match bytes_at {
            Some(b) => u64::from(be32(tag, b)?),
            None => len?.checked_sub(start)?,
        };
        let toc = tag.get(toc_at..toc_at.checked_add(100)?)?;
        if frames == 0 || bytes == 0 || toc.windows(2).any(|w| w[1] < w[0]) {
            return None;
        }
        let slack = bytes.div_ceil(256).checked_add(first.len())?;
        let mut points = Vec::with_capacity(101);
        for (i, &t) in (0u64..).zip(toc) {
            points.push(Point {
                frames_x100: i.checked_mul(frames)?,
                byte: start.checked_add(toc_byte(i, t, bytes)?)?,
                slack,
            });
        }
        points.push(Point {
            frames_x100: frames.checked_mul(100)?,
            byte: start.checked_add(bytes)?,
            slack: first.len(),
        });
        Some(Self { points, frames })
    }

    /// The table of a `VBRI` tag at `tag[0..]` (the `VBRI` magic first) in the frame `first` that
    /// starts at byte `start`; `None` for one that is cut short or declares nothing.
    pub(crate) fn vbri(tag: &[u8], start: u64, first: &Header) -> Option<Self> {
        let bytes = u64::from(be32(tag, 10)?);
        let frames = u64::from(be32(tag, 14)?);
        let entries = usize::from(be16(tag, 18)?);
        let scale = u64::from(be16(tag, 20)?);
        let size = usize::from(be16(tag, 22)?);
        let per_entry = u64::from(be16(tag, 24)?);
        if frames == 0 || bytes == 0 || per_entry == 0 || !(1..=4).contains(&size) {
            return None;
        }
        let table = tag.get(26..26usize.checked_add(entries.checked_mul(size)?)?)?;
        let mut points = vec![Point {
            frames_x100: 0,
            byte: start,
            slack: first.len(),
        }];
        let (mut frame, mut byte, mut slack) = (0u64, start, first.len());
        for entry in table.chunks_exact(size) {
            let len = entry.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
            frame = frame.checked_add(per_entry)?;
            if frame >= frames {
                break;
            }
            byte = byte.checked_add(len.checked_mul(scale)?)?;
            // Each entry was divided by the scale: up to `scale` bytes lost per entry.
            slack = slack.checked_add(scale)?;
            points.push(Point {
                frames_x100: frame.checked_mul(100)?,
                byte,
                slack,
            });
        }
        points.push(Point {
            frames_x100: frames.checked_mul(100)?,
            byte: start.checked_add(bytes)?,
            slack: first.len(),
        });
        if points.windows(2).any(|w| w[1].byte < w[0].byte) {
            return None;
        }
        Some(Self { points, frames })
    }

    /// The byte the table puts MPEG frame `frame` at (interpolated between its points).
    pub(crate) fn byte_of(&self, frame: u64) -> Option<u64> {
        let fx = frame.checked_mul(100)?;
        let seg = self
            .points
            .windows(2)
            .find(|w| w[0].frames_x100 <= fx && fx < w[1].frames_x100)?;
        let (a, b) = (seg[0], seg[1]);
        let num = u128::from(fx - a.frames_x100) * u128::from(b.byte - a.byte);
        let den = u128::from(b.frames_x100 - a.frames_x100);
        a.byte.checked_add(u64::try_from(num / den).ok()?)
    }

    /// Which MPEG frame starts at byte `pos`, by the table: its estimate and the bounds it is
    /// surely within (see the module's docs).
    pub(crate) fn locate(&self, pos: u64) -> Located {
        let earliest = self
            .points
            .iter()
            .filter(|p| p.byte.saturating_add(p.slack) <= pos)
            .map(|p| p.frames_x100 / 100)
            .max()
            .unwrap_or(0)
            // The tag frame: counted by some encoders, not by others.
            .saturating_sub(1);
        let latest = self
            .points
            .iter()
            .filter(|p| p.byte.saturating_sub(p.slack) > pos)
            .map(|p| p.frames_x100.div_ceil(100))
            .min()
            .unwrap_or(self.frames)
            .saturating_add(1);
        let estimate = self
            .points
            .windows(2)
            .find(|w| w[0].byte <= pos && pos < w[1].byte)
            .map_or(self.frames, |w| {
                let (a, b) = (w[0], w[1]);
                let num = u128::from(pos - a.byte) * u128::from(b.frames_x100 - a.frames_x100);
                let fx = u128::from(a.frames_x100) + num / u128::from(b.byte - a.byte);
                u64::try_from((fx + 50) / 100).unwrap_or(u64::MAX)
            })
            .clamp(earliest, latest.max(earliest));
        Located {
            estimate,
            earliest,
            latest,
        }
    }
}

/// The offset a `Xing` TOC entry `t` (number `i`) stands for: encoders (LAME, ffmpeg) floor
/// `256 × offset / bytes`, so the middle of the entry's 1/256 is the best guess (it halves the
/// error of the landing on real files against taking the floor), except at 0 %.
fn toc_byte(i: u64, t: u8, bytes: u64) -> Option<u64> {
    if i == 0 {
        return Some(0);
    }
    let halves = u64::from(t).checked_mul(2)?.checked_add(1)?;
    Some(halves.checked_mul(bytes)? / 512)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes.
    fn first() -> Header {
        Header::parse(&[0xff, 0xfb, 0x90, 0x00]).unwrap()
    }

    fn xing(frames: u32, bytes: u32, toc: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut t = b"Xing".to_vec();
        t.extend_from_slice(&7u32.to_be_bytes());
        t.extend_from_slice(&frames.to_be_bytes());
        t.extend_from_slice(&bytes.to_be_bytes());
        t.extend((0..100).map(toc));
        t
    }

    #[test]
    fn xing_toc_of_an_even_file() {
        // 10 000 frames over 2 560 000 bytes, evenly: 1 % = 100 frames = 25 600 bytes.
        let tag = xing(10_000, 2_560_000, |i| (i * 256 / 100) as u8);
        let toc = Toc::xing(&tag, 1000, &first(), None).unwrap();
        assert_eq!(toc.frames, 10_000);
        assert_eq!(toc.byte_of(0), Some(1000));
        // The middle of the entry's 1/256 (5000 bytes).
        assert_eq!(toc.byte_of(5000), Some(1000 + 1_285_000));
        let l = toc.locate(1000 + 1_285_000);
        assert_eq!(l.estimate, 5000);
        // Within the points around it, widened by the quantisation (10 000 bytes) and a frame.
        assert!(l.earliest <= 5000 && 5000 <= l.latest, "{l:?}");
        assert!(l.latest - l.earliest <= 300, "{l:?}");
        // Past the end: the last frame.
        assert_eq!(toc.locate(10_000_000).estimate, 10_000);
    }

    #[test]
    fn xing_without_toc_or_going_back_is_no_table() {
        let mut tag = xing(100, 1000, |i| i as u8);
        tag[7] = 3;
        assert_eq!(Toc::xing(&tag, 0, &first(), None), None);
        let tag = xing(100, 1000, |i| if i == 50 { 0 } else { i as u8 });
        assert_eq!(Toc::xing(&tag, 0, &first(), None), None);
    }

    #[test]
    fn vbri_table() {
        // 4 entries of 100 frames, 2-byte sizes, scale 2: segments of 20 000 bytes.
        let mut tag = b"VBRI".to_vec();
        tag.extend_from_slice(&[0, 1, 0, 0, 0, 50]);
        tag.extend_from_slice(&80_000u32.to_be_bytes());
        tag.extend_from_slice(&400u32.to_be_bytes());
        tag.extend_from_slice(&[0, 4, 0, 2, 0, 2, 0, 100]);
        for _ in 0..4 {
            tag.extend_from_slice(&10_000u16.to_be_bytes());
        }
        let toc = Toc::vbri(&tag, 0, &first()).unwrap();
        assert_eq!(toc.byte_of(200), Some(40_000));
        let l = toc.locate(40_000);
        assert_eq!(l.estimate, 200);
        assert!(l.earliest <= 200 && 200 <= l.latest);
    }
}
