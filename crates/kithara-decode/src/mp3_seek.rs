//! Fast seeks in MPEG audio files ([`SeekMode::Fast`]): the byte the target's frame starts at,
//! from the constant bitrate or the seek table of a variable-bitrate file, instead of symphonia's
//! walk over every frame header from the start (which, on a file still downloading, fetches every
//! byte before the target).
//!
//! 1. The layout, from the head of the file (already downloaded): where the audio frames start
//!    (after an ID3v2 tag and a Xing/Info frame) and the first frame's header. A `Xing` or `VBRI`
//!    tag declares a variable bitrate: its table (see `mp3_toc.rs`) gives the byte instead of
//!    the arithmetic, and the frame found there is known within the table's bounds only (step
//!    3 does not apply). A `Xing` tag without a TOC: the seek reads from the start.
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
//!    By a table, the frame is placed where the table puts it, and the core records the bound
//!    (`Core::uncertainty`) that `Decoder::time_accuracy` reports.

use std::{
    io::{self, Read, Seek, SeekFrom},
    sync::Arc,
    time::Duration,
};

use kithara_stream::{ContainerFormat, Source, Stream, StreamType};

use crate::{
    chunk::{duration_to_frames, frames_to_duration},
    config::SeekMode,
    decoder::{open_core, Decoder},
    error::{Error, Result},
    media_source::lock,
    mp3_frame::{find_chain, Header, CHAIN, MAX_FRAME},
    mp3_toc::{Toc, VBRI_OFFSET},
};

/// MPEG frames decoded and discarded before the target's frame: the bit reservoir reaches back
/// up to 511 bytes (more than a frame at low bitrates), and symphonia's decoder recovers from the
/// missing reservoir of the first frames over a few frames; with 8 the output at the target is the
/// decode from the start's, sample for sample (checked by the tests at random targets).
const PREROLL: u64 = 8;
/// Bytes read at the head of the audio to find the first frame (after an ID3v2 tag).
const HEAD_SCAN: u64 = 16 * 1024;

/// Where the audio frames of a constant-bitrate file start, and their header.
#[derive(Debug, Clone, Copy)]
struct Cbr {
    /// Byte of the first audio frame (after an ID3v2 tag and an Info frame).
    start: u64,
    first: Header,
}

impl Cbr {
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

/// How the frames of an MPEG audio file can be found by byte.
#[derive(Debug)]
enum Layout {
    /// Constant bitrate: arithmetic, exact.
    Cbr(Cbr),
    /// Variable bitrate with a seek table: an estimate within the table's bounds.
    Toc(Toc, Header),
}

/// Where a fast seek landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Landing {
    /// The byte of the MPEG frame the new reader starts at.
    pos: u64,
    /// The output frame that MPEG frame is placed at.
    at: u64,
    /// Output frames the true place may be away from `at`, either way (0: exact).
    uncertainty: u64,
}

/// Reads up to `len` bytes at `pos`; also says whether the file ended there.
fn read_at<T: StreamType>(s: &mut Stream<T>, pos: u64, len: u64) -> io::Result<(Vec<u8>, bool)> {
    s.seek(SeekFrom::Start(pos))?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    s.by_ref().take(len).read_to_end(&mut buf)?;
    let eof = (buf.len() as u64) < len;
    Ok((buf, eof))
}

/// The layout of an MPEG audio file; `None` for one whose first frames cannot be found or that
/// declares a variable bitrate without a usable table.
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
    let frame_start = tag_end + i as u64;
    let at = first.tag_offset() + i;
    let tag = head.get(at..).unwrap_or_default();
    let vbri = head.get(i + VBRI_OFFSET..).unwrap_or_default();
    if tag.starts_with(b"Xing") {
        let toc = Toc::xing(tag, frame_start, &first, s.len());
        return Ok(toc.map(|t| Layout::Toc(t, first)));
    }
    if vbri.starts_with(b"VBRI") {
        let toc = Toc::vbri(vbri, frame_start, &first);
        return Ok(toc.map(|t| Layout::Toc(t, first)));
    }
    let info = if tag.starts_with(b"Info") {
        first.len()
    } else {
        0
    };
    Ok(Some(Layout::Cbr(Cbr {
        start: frame_start + info,
        first,
    })))
}

impl<T: StreamType> Decoder<T> {
    /// [`Decoder::seek`] by the byte arithmetic of a constant-bitrate MPEG audio file or the seek
    /// table of a variable-bitrate one; `Ok(false)` when it does not apply (another container,
    /// [`SeekMode::Accurate`], a variable bitrate without a table, a target in the first frames),
    /// so the format reader's own seek does it (from a reader opened at the start of the file
    /// again, if a fast seek had opened one mid-file).
    pub(crate) fn seek_mpeg_audio(&mut self, to: Duration) -> Result<bool> {
        if self.config.seek_mode != SeekMode::Fast
            || self.core.info.container != Some(ContainerFormat::MpegAudio)
        {
            return Ok(false);
        }
        let target = duration_to_frames(to, self.core.info.sample_rate);
        let Some(landing) = self.frame_before(target)? else {
            tracing::debug!(
                ?to,
                "no layout to seek by here: the reader walks the frames"
            );
            if self.core.mid_file {
                let hints = self.hints_at(None);
                let empty = Arc::from(Vec::new());
                self.core = open_core(&self.stream, 0, empty, hints, &self.origin, &self.config)?;
            }
            return Ok(false);
        };
        tracing::debug!(?to, ?landing, "MPEG audio seek: new reader at the frame");
        let hints = self.hints_at(None);
        let empty = Arc::from(Vec::new());
        let mut core = open_core(
            &self.stream,
            landing.pos,
            empty,
            hints,
            &self.origin,
            &self.config,
        )?;
        core.rebase(landing.at);
        core.discard_until(target);
        core.info.duration = self.core.info.duration;
        core.info.frames = self.core.info.frames;
        // A reader opened mid-file meets no tags: the file's stay.
        core.info.tags = self.core.info.tags.clone();
        core.priming = self.core.priming;
        // On an estimated timeline the declared end is not where the padding starts: every
        // frame is handed out rather than cutting audio.
        core.end_frame = self.core.end_frame.filter(|_| landing.uncertainty == 0);
        core.uncertainty = landing.uncertainty;
        core.mid_file = true;
        self.core = core;
        Ok(true)
    }

    /// The MPEG frame [`PREROLL`] frames before the one holding output frame `target`, found by
    /// the layout and checked on the frames there; `None` where no layout applies.
    fn frame_before(&self, target: u64) -> Result<Option<Landing>> {
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
        let first = match &layout {
            Layout::Cbr(c) => c.first,
            Layout::Toc(_, h) => *h,
        };
        let spf = first.samples();
        let frame = target.saturating_add(priming) / spf;
        // A table's landing may be a frame past its guess: one more frame of pre-roll.
        let preroll = match layout {
            Layout::Cbr(_) => PREROLL,
            Layout::Toc(..) => PREROLL + 1,
        };
        let Some(index) = frame.checked_sub(preroll) else {
            return Ok(None);
        };
        let guess = match &layout {
            Layout::Cbr(c) => c.byte_of(index),
            Layout::Toc(t, _) => t.byte_of(index),
        };
        // Past the end: the reader's seek reports it.
        let Some(guess) = guess.filter(|&g| s.len().is_none_or(|len| g < len)) else {
            return Ok(None);
        };
        let (buf, eof) = read_at(&mut s, guess, (CHAIN as u64 + 1) * MAX_FRAME)
            .map_err(|e| stream_err(guess, e))?;
        let cbr = match &layout {
            Layout::Cbr(c) => Some(&c.first),
            Layout::Toc(..) => None,
        };
        let Ok(Some((i, _))) = find_chain(&buf, eof, cbr) else {
            return Ok(None);
        };
        let pos = guess + i as u64;
        let (index, uncertainty) = match &layout {
            Layout::Cbr(c) => match c.index_at(pos) {
                Some(j) => (j, 0),
                None => return Ok(None),
            },
            Layout::Toc(t, _) => {
                let l = t.locate(pos);
                // Never after the target's frame less the pre-roll (the discard needs it).
                let j = l.estimate.min(frame - PREROLL);
                let off = (j - l.earliest.min(j)).max(l.latest.saturating_sub(j));
                (j, off.saturating_mul(spf))
            }
        };
        let Some(at) = index.checked_mul(spf).and_then(|f| f.checked_sub(priming)) else {
            return Ok(None);
        };
        tracing::debug!(
            pos,
            index,
            uncertain_by = ?frames_to_duration(uncertainty, first.rate),
            "MPEG audio seek: landed"
        );
        Ok(Some(Landing {
            pos,
            at,
            uncertainty,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_from_offset() {
        let first = Header::parse(&[0xff, 0xfb, 0x90, 0x00]).unwrap();
        let l = Cbr { start: 100, first };
        assert_eq!(l.byte_of(10), Some(100 + 4179));
        assert_eq!(l.index_at(100 + 4180), Some(10));
        assert_eq!(l.index_at(100 + 4179 + 200), None);
    }
}
