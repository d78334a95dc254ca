//! Files back to back in one MPEG audio stream: where the next file starts.
//!
//! Simple stream servers send whole MP3 files one after another, each with its ID3v2 tag and its
//! Xing/Info (LAME) or VBRI frame. One format reader over all of them would apply the first file's
//! length and padding to the whole stream (and symphonia's MP3 reader drops the later info frames
//! with their delays), so the decoder ends a reader where the next file starts and opens a new one
//! there: each file gets its own delay and padding trimmed, and its own tags.
//!
//! [`JoinScan`] looks at the bytes a reader is given, as they pass, for the start of a file: an
//! ID3v2 tag header (`ID3`, a version 2–4, flags without undefined bits, a sync-safe size) or an
//! MPEG audio layer III frame that carries a `Xing`, `Info` or `VBRI` tag at the offset its header
//! implies. The file the window starts with (its leading tag and info frame) is not a join. A
//! match that straddles two reads is found on the second one (the scanner keeps the tail of the
//! previous read).

/// The longest run of bytes a join marker needs: a frame header, 32 bytes of side information, 2
/// of CRC, and the 4-byte tag id.
const MARKER_SPAN: usize = 4 + 2 + 32 + 4;

/// Finds the starts of further files in the byte stream of one MPEG audio reader.
#[derive(Debug)]
pub(crate) struct JoinScan {
    /// The first byte of audio of the window's own file (after its leading tag): a join must lie
    /// beyond it. `None` until the window's first bytes were seen.
    head_end: Option<u64>,
    /// The window's first byte.
    base: u64,
    /// The last bytes seen (at most [`MARKER_SPAN`] − 1), ending at `tail_end`.
    tail: Vec<u8>,
    tail_end: u64,
    /// Scratch for the tail joined to the next bytes (kept to avoid an allocation per read).
    seam: Vec<u8>,
}

impl JoinScan {
    /// A scanner for a window that starts at stream byte `base`.
    pub(crate) fn new(base: u64) -> Self {
        Self {
            head_end: None,
            base,
            tail: Vec::with_capacity(MARKER_SPAN),
            tail_end: base,
            seam: Vec::with_capacity(4 * MARKER_SPAN),
        }
    }

    /// A scanner that starts in the middle of a window, where the window's own head is behind.
    pub(crate) fn from(pos: u64) -> Self {
        let mut s = Self::new(pos);
        s.head_end = Some(pos);
        s
    }

    /// Looks at `bytes`, which lie at stream byte `at`; returns the stream byte where the first
    /// further file begins, if these bytes (with the tail of the previous ones) show one.
    pub(crate) fn feed(&mut self, at: u64, bytes: &[u8]) -> Option<u64> {
        if bytes.is_empty() {
            return None;
        }
        // Continue from the tail only when these bytes follow it.
        let keep = if at == self.tail_end {
            self.tail.len()
        } else {
            0
        };
        let start = at.saturating_sub(keep as u64);
        // The seam: the tail and the first new bytes, so that a marker split between two reads
        // is seen whole. The rest is scanned in place, without a copy.
        self.seam.clear();
        self.seam.extend_from_slice(&self.tail[..keep]);
        self.seam
            .extend_from_slice(&bytes[..bytes.len().min(2 * MARKER_SPAN)]);
        if self.head_end.is_none() {
            let undecided = start == self.base
                && self.seam.len() < 10
                && b"ID3".starts_with(&self.seam[..self.seam.len().min(3)]);
            if undecided {
                self.remember(at, bytes);
                return None;
            }
            let head = if start == self.base {
                id3v2_len(&self.seam).unwrap_or(0)
            } else {
                0
            };
            self.head_end = Some(self.base.saturating_add(head));
        }
        let head_end = self.head_end.unwrap_or(self.base);
        let seam_scan = (keep + MARKER_SPAN).min(self.seam.len());
        let found = first_join(&self.seam, 0..seam_scan, start, head_end).or_else(|| {
            first_join(
                bytes,
                MARKER_SPAN.min(bytes.len())..bytes.len(),
                at,
                head_end,
            )
        });
        self.remember(at, bytes);
        found
    }

    fn remember(&mut self, at: u64, bytes: &[u8]) {
        let end = at.saturating_add(bytes.len() as u64);
        if at != self.tail_end {
            self.tail.clear();
        }
        self.tail
            .extend_from_slice(&bytes[bytes.len().saturating_sub(MARKER_SPAN - 1)..]);
        let excess = self.tail.len().saturating_sub(MARKER_SPAN - 1);
        self.tail.drain(..excess);
        self.tail_end = end;
    }
}

/// The first join in `window[range]` (`window[0]` is stream byte `start`) beyond `head_end`.
fn first_join(
    window: &[u8],
    range: std::ops::Range<usize>,
    start: u64,
    head_end: u64,
) -> Option<u64> {
    range
        .filter_map(|i| marker_at(window, i, start.saturating_add(i as u64)))
        .find(|&p| p > head_end)
}

/// The stream byte where a file starts if a join marker is found at `window[i]` (stream byte
/// `pos`): the tag header itself, or the frame header before an info tag id.
fn marker_at(window: &[u8], i: usize, pos: u64) -> Option<u64> {
    let rest = &window[i..];
    match rest.first()? {
        b'I' if rest.starts_with(b"ID3") => id3v2_len(rest).map(|_| pos),
        b'I' | b'X' if rest.starts_with(b"Info") || rest.starts_with(b"Xing") => {
            info_frame_start(window, i).map(|off| pos.saturating_sub(off as u64))
        }
        b'V' if rest.starts_with(b"VBRI") => {
            let h = i.checked_sub(36)?;
            header_fields(window.get(h..h + 4)?).map(|_| pos - 36)
        }
        _ => None,
    }
}

/// How far before an `Info`/`Xing` id at `window[i]` its frame header lies, if one lies exactly
/// where the header's own side-information length puts the tag.
fn info_frame_start(window: &[u8], i: usize) -> Option<usize> {
    for off in [13usize, 15, 21, 23, 36, 38] {
        let Some(h) = i.checked_sub(off) else {
            continue;
        };
        let Some(bytes) = window.get(h..h + 4) else {
            continue;
        };
        if let Some((mpeg1, mono, crc)) = header_fields(bytes) {
            let side = match (mpeg1, mono) {
                (true, false) => 32,
                (true, true) | (false, false) => 17,
                (false, true) => 9,
            };
            if off == 4 + side + if crc { 2 } else { 0 } {
                return Some(off);
            }
        }
    }
    None
}

/// A layer III frame header's (MPEG-1?, mono?, CRC-protected?), if `b` is a valid one.
fn header_fields(b: &[u8]) -> Option<(bool, bool, bool)> {
    let &[b0, b1, b2, b3] = b else { return None };
    let version = (b1 >> 3) & 0b11;
    let layer = (b1 >> 1) & 0b11;
    let bitrate = b2 >> 4;
    let rate = (b2 >> 2) & 0b11;
    let valid = b0 == 0xFF
        && b1 & 0xE0 == 0xE0
        && version != 0b01
        && layer == 0b01
        && bitrate != 0b1111
        && rate != 0b11;
    valid.then_some((version == 0b11, b3 >> 6 == 0b11, b1 & 1 == 0))
}

/// The whole length of the ID3v2 tag whose header starts `b` (header, body and footer), if `b`
/// starts with a valid one.
pub(crate) fn id3v2_len(b: &[u8]) -> Option<u64> {
    let h = b.get(..10)?;
    if &h[..3] != b"ID3" || !(2..=4).contains(&h[3]) || h[4] != 0 {
        return None;
    }
    let undefined = match h[3] {
        2 => 0x3F,
        3 => 0x1F,
        _ => 0x0F,
    };
    if h[5] & undefined != 0 || h[6..10].iter().any(|&x| x & 0x80 != 0) {
        return None;
    }
    let size = h[6..10]
        .iter()
        .fold(0u64, |acc, &x| (acc << 7) | u64::from(x));
    let footer = if h[3] == 4 && h[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(body: usize) -> Vec<u8> {
        let mut t = b"ID3\x03\x00\x00".to_vec();
        let s = u32::try_from(body).unwrap_or(0);
        t.extend([
            (s >> 21) as u8 & 0x7F,
            (s >> 14) as u8 & 0x7F,
            (s >> 7) as u8 & 0x7F,
            s as u8 & 0x7F,
        ]);
        t.resize(10 + body, 0);
        t
    }

    /// An MPEG-2 layer III stereo frame header (22.05 kHz, 64 kbit/s) with `id` where an info tag goes.
    fn info_frame(id: &[u8; 4]) -> Vec<u8> {
        let mut f = vec![0xFF, 0xF3, 0x80, 0x00];
        f.resize(4 + 17, 0);
        f.extend_from_slice(id);
        f.resize(208, 0);
        f
    }

    fn stream() -> (Vec<u8>, Vec<u64>) {
        let mut s = Vec::new();
        let mut joins = Vec::new();
        for (i, head_tag) in [true, false, true].into_iter().enumerate() {
            let start = s.len() as u64;
            if head_tag {
                s.extend(tag(300));
            }
            s.extend(info_frame(if i == 1 { b"Xing" } else { b"Info" }));
            // Audio frames: headers with no marker after them.
            for _ in 0..20 {
                let mut f = vec![0xFF, 0xF3, 0x80, 0x00];
                f.resize(208, 0x55);
                s.extend(f);
            }
            joins.push(start);
        }
        joins.remove(0);
        (s, joins)
    }

    #[test]
    fn finds_each_further_file_whatever_the_read_sizes() {
        let (bytes, joins) = stream();
        for read in [1usize, 3, 7, 10, 41, 100, 4096] {
            let mut found = Vec::new();
            let mut base = 0u64;
            let mut scan = JoinScan::new(base);
            let mut at = 0usize;
            while at < bytes.len() {
                let end = (at + read).min(bytes.len());
                match scan.feed(at as u64, &bytes[at..end]) {
                    // A new window from the join, as the decoder does.
                    Some(p) => {
                        found.push(p);
                        base = p;
                        scan = JoinScan::new(base);
                        at = usize::try_from(p).unwrap();
                    }
                    None => at = end,
                }
            }
            assert_eq!(found, joins, "reads of {read} bytes");
        }
    }

    #[test]
    fn a_window_starting_mid_file_sees_the_next_file_only() {
        let (bytes, joins) = stream();
        let mut scan = JoinScan::from(1000);
        assert_eq!(scan.feed(1000, &bytes[1000..]), Some(joins[0]));
    }

    #[test]
    fn tag_lengths() {
        assert_eq!(id3v2_len(&tag(300)), Some(310));
        assert_eq!(id3v2_len(b"ID3\x05\x00\x00\x00\x00\x00\x00"), None);
        assert_eq!(id3v2_len(b"ID3\x04\x00\x00\x00\x00\x80\x00"), None);
    }
}
