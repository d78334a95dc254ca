//! MPEG audio frame headers, and the resync on them: a sync is [`CHAIN`] consecutive headers,
//! each where the previous frame's size says, so a false sync (bytes that look like one header)
//! does not survive.

/// Consecutive frame headers, each where the previous frame's size says, that make a sync.
pub(crate) const CHAIN: usize = 4;
/// The largest MPEG audio frame in bytes (MPEG-2.5 layer II, 160 kbit/s at 8 kHz, padded).
pub(crate) const MAX_FRAME: u64 = 2881;

/// One MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// 1 (MPEG-1), 2 (MPEG-2), 25 (MPEG-2.5).
    version: u8,
    layer: u8,
    bitrate: u32,
    pub(crate) rate: u32,
    padding: bool,
    crc: bool,
    mono: bool,
}

impl Header {
    pub(crate) fn parse(b: &[u8]) -> Option<Self> {
        let h = u32::from_be_bytes(b.get(..4)?.try_into().ok()?);
        if h >> 21 != 0x7ff {
            return None;
        }
        let version = match (h >> 19) & 3 {
            0 => 25,
            2 => 2,
            3 => 1,
            _ => return None,
        };
        let layer = match (h >> 17) & 3 {
            1 => 3,
            2 => 2,
            3 => 1,
            _ => return None,
        };
        let idx = usize::try_from((h >> 12) & 15).ok()?;
        let kbps: &[u32; 16] = match (version, layer) {
            (1, 1) => &[
                0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0,
            ],
            (1, 2) => &[
                0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0,
            ],
            (1, _) => &[
                0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
            ],
            (_, 1) => &[
                0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0,
            ],
            _ => &[
                0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0,
            ],
        };
        // 0: free format, whose frame sizes do not follow from the header.
        let bitrate = kbps[idx].checked_mul(1000).filter(|&b| b > 0)?;
        let base: u32 = match (h >> 10) & 3 {
            0 => 44_100,
            1 => 48_000,
            2 => 32_000,
            _ => return None,
        };
        let rate = match version {
            1 => base,
            2 => base / 2,
            _ => base / 4,
        };
        Some(Self {
            version,
            layer,
            bitrate,
            rate,
            padding: (h >> 9) & 1 == 1,
            crc: (h >> 16) & 1 == 0,
            mono: (h >> 6) & 3 == 3,
        })
    }

    /// Samples per channel in a frame.
    pub(crate) fn samples(&self) -> u64 {
        match (self.layer, self.version) {
            (1, _) => 384,
            (3, 2 | 25) => 576,
            _ => 1152,
        }
    }

    /// The frame's length in bytes, header included.
    pub(crate) fn len(&self) -> u64 {
        let slot = if self.layer == 1 { 4 } else { 1 };
        let slots = self.samples() / 8 / slot * u64::from(self.bitrate) / u64::from(self.rate);
        (slots + u64::from(self.padding)) * slot
    }

    /// Both frames belong to one stream of one constant bitrate.
    pub(crate) fn same_cbr(&self, o: &Self) -> bool {
        (self.version, self.layer, self.rate, self.bitrate)
            == (o.version, o.layer, o.rate, o.bitrate)
    }

    /// The nominal frame length in bytes as a fraction `(numerator, denominator)`.
    pub(crate) fn nominal(&self) -> (u64, u64) {
        (
            self.samples() * u64::from(self.bitrate),
            8 * u64::from(self.rate),
        )
    }

    /// Offset of a Xing/Info tag in a frame (after the header, CRC and side information).
    pub(crate) fn tag_offset(&self) -> usize {
        let side = match (self.version, self.mono) {
            (1, true) => 17,
            (1, false) => 32,
            (_, true) => 9,
            (_, false) => 17,
        };
        4 + if self.crc { 2 } else { 0 } + side
    }
}

/// The first header at or after `buf[from..]` that starts a chain of [`CHAIN`] frames of one
/// constant bitrate (or a shorter chain that reaches the end of the file, `at_eof`). `Err(())`
/// when a chain is found whose bitrate is not `cbr`'s (the file is not constant-bitrate).
pub(crate) fn find_chain(
    buf: &[u8],
    at_eof: bool,
    cbr: Option<&Header>,
) -> std::result::Result<Option<(usize, Header)>, ()> {
    for i in 0..buf.len() {
        let Some(first) = Header::parse(&buf[i..]) else {
            continue;
        };
        let mut at = i;
        let mut n = 0;
        let chained = loop {
            let Some(h) = buf.get(at..).and_then(Header::parse) else {
                break at >= buf.len() && at_eof && n > 0;
            };
            if (h.version, h.layer, h.rate) != (first.version, first.layer, first.rate) {
                break false;
            }
            n += 1;
            if n == CHAIN {
                break true;
            }
            at = at.saturating_add(usize::try_from(h.len()).unwrap_or(usize::MAX));
        };
        if !chained {
            continue;
        }
        if let Some(c) = cbr {
            // The chain's headers, checked again for the bitrate.
            let mut at = i;
            while let Some(h) = buf.get(at..).and_then(Header::parse) {
                if !h.same_cbr(c) {
                    return Err(());
                }
                at = at.saturating_add(usize::try_from(h.len()).unwrap_or(usize::MAX));
            }
        }
        return Ok(Some((i, first)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths() {
        // MPEG-1 layer III, 128 kbit/s, 44.1 kHz, unpadded and padded.
        let h = Header::parse(&[0xff, 0xfb, 0x90, 0x00]).unwrap();
        assert_eq!(
            (h.bitrate, h.rate, h.samples(), h.len()),
            (128_000, 44_100, 1152, 417)
        );
        let h = Header::parse(&[0xff, 0xfb, 0x92, 0x00]).unwrap();
        assert_eq!(h.len(), 418);
        // MPEG-2 layer III, 64 kbit/s, 22.05 kHz.
        let h = Header::parse(&[0xff, 0xf3, 0x80, 0xc0]).unwrap();
        assert_eq!(
            (h.bitrate, h.rate, h.samples(), h.len()),
            (64_000, 22_050, 576, 208)
        );
        assert!(Header::parse(&[0xff, 0xfb, 0xf0, 0x00]).is_none());
    }

    #[test]
    fn a_false_sync_does_not_survive() {
        // MPEG-2 layer III, 64 kbit/s, 22.05 kHz: 208 bytes.
        let frame = |n: usize| {
            let mut f = vec![0u8; 208 * n];
            for i in 0..n {
                f[i * 208..i * 208 + 4].copy_from_slice(&[0xff, 0xf3, 0x80, 0xc0]);
            }
            f
        };
        // A lone header, then one that chains to a second and stops, then the real stream.
        let mut buf = frame(1)[..100].to_vec();
        buf.extend(frame(2));
        buf.extend([0x12; 50]);
        let real = buf.len();
        buf.extend(frame(5));
        let (at, h) = find_chain(&buf, false, None).unwrap().unwrap();
        assert_eq!((at, h.len()), (real, 208));
        // A chain cut by the end of the file counts there, not before it.
        assert_eq!(find_chain(&frame(2), true, None), Ok(Some((0, h))));
        assert_eq!(find_chain(&frame(2), false, None), Ok(None));
    }
}
