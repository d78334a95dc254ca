//! Fast seeks in MPEG audio files ([`SeekMode::Fast`]): the byte the target's frame starts at,
//! from the constant bitrate, instead of symphonia's walk over every frame header from the start
//! (which, on a file still downloading, fetches every byte before the target).
//!
//! 1. The layout, from the head of the file (already downloaded): where the audio frames start
//!    (after an ID3v2 tag and a Xing/Info frame) and the first frame's header. A `Xing` or `VBRI`
//!    tag declares a variable bitrate: no arithmetic, the seek reads from the start.
//! 2. The frame `PREROLL` frames before the target's (the bit reservoir reaches up to 511 bytes
//!    back, and the filter banks overlap), at `start + frame × nominal size`, the
//!    stream seeks there (a ranged request on a file still downloading) and looks for `CHAIN`
//!    consecutive frame headers chained by their sizes, all with the first frame's bitrate.
//! 3. The index of the frame found follows from its byte offset: frame starts stay within a byte
//!    of `index × nominal size` (the padding bit keeps them there). A frame found farther from
//!    that (a file not laid out that way) or a bitrate that changed (variable bitrate without a
//!    tag) gives up, and the seek reads from the start.
//! 4. A new reader opens at that frame, placed on the timeline at `index × samples per frame −
//!    encoder delay`, and the output before the target is decoded and discarded: the first
//!    frame handed out is the target's, sample for sample as a decode from the start gives it.

use std::{
    io::{self, Read, Seek, SeekFrom},
    sync::Arc,
    time::Duration,
};

use kithara_stream::{ContainerFormat, Source, Stream, StreamType};

use crate::{
    chunk::duration_to_frames,
    config::SeekMode,
    decoder::{open_core, Decoder},
    error::{Error, Result},
    media_source::lock,
};

/// Consecutive frame headers, each where the previous frame's size says, that make a sync.
const CHAIN: usize = 4;
/// MPEG frames decoded and discarded before the target's frame: the bit reservoir reaches back
/// up to 511 bytes (more than a frame at low bitrates), and symphonia's decoder recovers from the
/// missing reservoir of the first frames over a few frames; with 8 the output at the target is the
/// decode from the start's, sample for sample (checked by the tests at random targets).
const PREROLL: u64 = 8;
/// The largest MPEG audio frame in bytes (MPEG-2.5 layer II, 160 kbit/s at 8 kHz, padded).
const MAX_FRAME: u64 = 2881;
/// Bytes read at the head of the audio to find the first frame (after an ID3v2 tag).
const HEAD_SCAN: u64 = 16 * 1024;

/// One MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    /// 1 (MPEG-1), 2 (MPEG-2), 25 (MPEG-2.5).
    version: u8,
    layer: u8,
    bitrate: u32,
    rate: u32,
    padding: bool,
    crc: bool,
    mono: bool,
}

impl Header {
    fn parse(b: &[u8]) -> Option<Self> {
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
    fn samples(&self) -> u64 {
        match (self.layer, self.version) {
            (1, _) => 384,
            (3, 2 | 25) => 576,
            _ => 1152,
        }
    }

    /// The frame's length in bytes, header included.
    fn len(&self) -> u64 {
        let slot = if self.layer == 1 { 4 } else { 1 };
        let slots = self.samples() / 8 / slot * u64::from(self.bitrate) / u64::from(self.rate);
        (slots + u64::from(self.padding)) * slot
    }

    /// Both frames belong to one stream of one constant bitrate.
    fn same_cbr(&self, o: &Self) -> bool {
        (self.version, self.layer, self.rate, self.bitrate)
            == (o.version, o.layer, o.rate, o.bitrate)
    }

    /// The nominal frame length in bytes as a fraction `(numerator, denominator)`.
    fn nominal(&self) -> (u64, u64) {
        (
            self.samples() * u64::from(self.bitrate),
            8 * u64::from(self.rate),
        )
    }

    /// Offset of a Xing/Info tag in a frame (after the header, CRC and side information).
    fn tag_offset(&self) -> usize {
        let side = match (self.version, self.mono) {
            (1, true) => 17,
            (1, false) => 32,
            (_, true) => 9,
            (_, false) => 17,
        };
        4 + if self.crc { 2 } else { 0 } + side
    }
}

/// Where the audio frames of a constant-bitrate file start, and their header.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Byte of the first audio frame (after an ID3v2 tag and an Info frame).
    start: u64,
    first: Header,
}

impl Layout {
    /// The byte frame `index` nominally starts at.
    fn byte_of(&self, index: u64) -> Option<u64> {
        let (num, den) = self.first.nominal();
        self.start.checked_add(index.checked_mul(num)? / den)
    }

    /// The index of the frame at byte `pos`, when `pos` lies within a quarter frame of where that
    /// frame nominally starts (so the index is exact whatever the padding did before).
    fn index_at(&self, pos: u64) -> Option<u64> {
        let (num, den) = self.first.nominal();
        let off = pos.checked_sub(self.start)?.checked_mul(den)?;
        let index = off.checked_add(num / 2)? / num;
        let drift = off.abs_diff(index.checked_mul(num)?);
        (drift.checked_mul(4)? <= num).then_some(index)
    }
}

/// The first header at or after `buf[from..]` that starts a chain of [`CHAIN`] frames of one
/// constant bitrate (or a shorter chain that reaches the end of the file, `at_eof`). `Err(())`
/// when a chain is found whose bitrate is not `cbr`'s (the file is not constant-bitrate).
fn find_chain(
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

/// Reads up to `len` bytes at `pos`; also says whether the file ended there.
fn read_at<T: StreamType>(s: &mut Stream<T>, pos: u64, len: u64) -> io::Result<(Vec<u8>, bool)> {
    s.seek(SeekFrom::Start(pos))?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    s.by_ref().take(len).read_to_end(&mut buf)?;
    let eof = (buf.len() as u64) < len;
    Ok((buf, eof))
}

/// The layout of a constant-bitrate MPEG audio file; `None` for one that declares a variable
/// bitrate (`Xing`, `VBRI`) or whose first frames cannot be found.
fn read_layout<T: StreamType>(s: &mut Stream<T>) -> io::Result<Option<Layout>> {
    let (id3, _) = read_at(s, 0, 10)?;
    let tag_end = match id3.get(..10) {
        Some(h) if &h[..3] == b"ID3" => {
            let size = h[6..10]
                .iter()
                .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7f));
            let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
            10 + size + footer
        }
        _ => 0,
    };
    let (head, eof) = read_at(s, tag_end, HEAD_SCAN)?;
    let Ok(Some((i, first))) = find_chain(&head, eof, None) else {
        return Ok(None);
    };
    let at = first.tag_offset() + i;
    let tag = head.get(at..at + 4);
    let vbri = head.get(i + 36..i + 40);
    if tag == Some(b"Xing") || vbri == Some(b"VBRI") {
        return Ok(None);
    }
    let info = if tag == Some(b"Info") { first.len() } else { 0 };
    Ok(Some(Layout {
        start: tag_end + i as u64 + info,
        first,
    }))
}

impl<T: StreamType> Decoder<T> {
    /// [`Decoder::seek`] by the byte arithmetic of a constant-bitrate MPEG audio file;
    /// `Ok(false)` when it does not apply (another container, [`SeekMode::Accurate`], a variable
    /// bitrate, a target in the first frames), so the format reader's own seek does it (from a
    /// reader opened at the start of the file again, if a fast seek had opened one mid-file).
    pub(crate) fn seek_mpeg_audio(&mut self, to: Duration) -> Result<bool> {
        if self.config.seek_mode != SeekMode::Fast
            || self.core.info.container != Some(ContainerFormat::MpegAudio)
        {
            return Ok(false);
        }
        let target = duration_to_frames(to, self.core.info.sample_rate);
        let Some((pos, at)) = self.frame_before(target)? else {
            tracing::debug!(
                ?to,
                "no constant-bitrate layout here: the reader walks the frames"
            );
            if self.core.mid_file {
                let hints = self.hints_at(None);
                let empty = Arc::from(Vec::new());
                self.core = open_core(&self.stream, 0, empty, hints, &self.origin, &self.config)?;
            }
            return Ok(false);
        };
        tracing::debug!(
            ?to,
            pos,
            frame = at,
            "MPEG audio seek: new reader at the frame"
        );
        let hints = self.hints_at(None);
        let empty = Arc::from(Vec::new());
        let mut core = open_core(&self.stream, pos, empty, hints, &self.origin, &self.config)?;
        core.rebase(at);
        core.discard_until(target);
        core.info.duration = self.core.info.duration;
        core.info.frames = self.core.info.frames;
        core.priming = self.core.priming;
        core.end_frame = self.core.end_frame;
        core.mid_file = true;
        self.core = core;
        Ok(true)
    }

    /// The byte and output frame of the MPEG frame [`PREROLL`] frames before the one holding
    /// output frame `target`, found by the constant-bitrate arithmetic and checked on the frames
    /// there; `None` where the arithmetic does not apply.
    fn frame_before(&self, target: u64) -> Result<Option<(u64, u64)>> {
        let stream_err = |pos, e| Error::Stream {
            origin: self.origin.clone(),
            pos,
            source: e,
        };
        let priming = self.core.priming;
        let mut s = lock(&self.stream);
        if !s.source().is_seekable() {
            return Ok(None);
        }
        let Some(layout) = read_layout(&mut s).map_err(|e| stream_err(0, e))? else {
            return Ok(None);
        };
        let spf = layout.first.samples();
        let Some(index) = (target.saturating_add(priming) / spf).checked_sub(PREROLL) else {
            return Ok(None);
        };
        // Past the end: the reader's seek reports it.
        let Some(guess) = layout
            .byte_of(index)
            .filter(|&g| s.len().is_none_or(|len| g < len))
        else {
            return Ok(None);
        };
        let (buf, eof) = read_at(&mut s, guess, (CHAIN as u64 + 1) * MAX_FRAME)
            .map_err(|e| stream_err(guess, e))?;
        let Ok(Some((i, _))) = find_chain(&buf, eof, Some(&layout.first)) else {
            return Ok(None);
        };
        let pos = guess + i as u64;
        Ok(layout
            .index_at(pos)
            .and_then(|j| j.checked_mul(spf)?.checked_sub(priming))
            .map(|at| (pos, at)))
    }
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
    fn index_from_offset() {
        let first = Header::parse(&[0xff, 0xfb, 0x90, 0x00]).unwrap();
        let l = Layout { start: 100, first };
        assert_eq!(l.byte_of(10), Some(100 + 4179));
        assert_eq!(l.index_at(100 + 4180), Some(10));
        assert_eq!(l.index_at(100 + 4179 + 200), None);
    }
}
