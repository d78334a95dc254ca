//! Seeking by time on a segmented stream (HLS): the stream maps the time to the start of a
//! segment (its `seek_time`), a new format reader opens there, and the output before the target
//! is decoded and discarded, so the first frame handed out is the one at the target.
//!
//! The stream is asked for the target less the codec's pre-roll (two AAC frames), so when the
//! target sits at the very start of a segment the reader starts in the previous one and the first
//! frame returned has its overlap partner. An fMP4 segment cannot be read without its init
//! section: when the anchor does not start with one (it is not a new run), the init section of the
//! anchor's run or variant — the one at the latest boundary before the anchor that starts with an
//! init section — is read again and put in front of the segment's bytes.

use std::{
    io::{self, Read, Seek, SeekFrom},
    sync::Arc,
    time::Duration,
};

use kithara_stream::{Boundary, ContainerFormat, Source, Stream, StreamType};

use crate::{
    change::StreamChange,
    chunk::{duration_to_frames, frames_to_duration},
    decoder::{open_core, Decoder},
    engine::preroll_frames,
    error::Error,
    media_source::lock,
    Result,
};

/// The most bytes read as an init section (ftyp + moov of an audio rendition are a few hundred).
const MAX_INIT: u64 = 1 << 20;

impl<T: StreamType> Decoder<T> {
    /// [`Decoder::seek`] through the stream's seek by time; `Ok(false)` for a stream without
    /// segments (a progressive file), so the format reader's own seek applies.
    pub(crate) fn seek_by_stream_time(&mut self, to: Duration) -> Result<bool> {
        self.reopen_at_time(to, None)
    }

    /// Opens a new reader where the stream's seek by time to `to` (less the pre-roll) lands, and
    /// discards the output before `to`. `crossed` is the boundary that made the decoder do it
    /// (reported on the next chunk), `None` for a seek the user asked for.
    pub(crate) fn reopen_at_time(
        &mut self,
        to: Duration,
        crossed: Option<Boundary>,
    ) -> Result<bool> {
        let rate = self.core.info.sample_rate;
        let target = duration_to_frames(to, rate);
        // Resuming after a run that ended early: its last packet is the one before `to`, so the
        // codec keeps it as the overlap partner and no pre-roll is read (which would land in the
        // run that ended, and end there again).
        let preroll = if crossed.is_some() {
            0
        } else {
            preroll_frames(self.core.info.codec)
        };
        let from = frames_to_duration(target.saturating_sub(preroll), rate);
        let (anchor, at_anchor) = {
            let mut s = lock(&self.stream);
            if s.segment_layout().is_none() {
                return Ok(false);
            }
            let anchor = match s.seek_time(from) {
                Ok(a) => a,
                // A segmented stream that cannot map time (live): the format reader's seek would
                // rewind into bytes that no longer mean the same media.
                Err(kithara_stream::Error::TimeSeekUnsupported) => {
                    return Err(Error::Seek {
                        origin: self.origin.clone(),
                        target: to,
                        source: symphonia::core::errors::Error::SeekError(
                            symphonia::core::errors::SeekErrorKind::Unseekable,
                        ),
                    })
                }
                Err(e) => {
                    return Err(Error::Stream {
                        origin: self.origin.clone(),
                        pos: s.position(),
                        source: e.into_io(),
                    })
                }
            };
            let at_anchor = s
                .source()
                .next_boundary(anchor.pos)
                .filter(|b| b.pos == anchor.pos)
                .and_then(|b| b.media_info);
            (anchor, at_anchor)
        };
        tracing::debug!(target = ?to, anchor_pos = anchor.pos, anchor_time = ?anchor.time, "seek by time: new reader at the anchor");
        let hints = self.hints_at(at_anchor);
        let stream_err = |e: io::Error| Error::Stream {
            origin: self.origin.clone(),
            pos: anchor.pos,
            source: e,
        };
        // The playlist's facts may not name the container; the reader that played it does.
        let prefix: Arc<[u8]> = match hints.container.or(self.core.info.container) {
            Some(ContainerFormat::Fmp4 | ContainerFormat::Mp4) => {
                let mut s = lock(&self.stream);
                let prefix = init_prefix(&mut s, anchor.pos);
                // Back to the anchor whatever happened.
                s.seek(SeekFrom::Start(anchor.pos)).map_err(stream_err)?;
                Arc::from(prefix.map_err(stream_err)?)
            }
            _ => Arc::from(Vec::new()),
        };
        let mut core = open_core(
            &self.stream,
            anchor.pos,
            prefix,
            hints,
            &self.origin,
            &self.config,
        )?;
        let anchor_frame = duration_to_frames(anchor.time, rate);
        core.rebase(anchor_frame);
        core.discard_until(target);
        core.info.duration = self.core.info.duration;
        core.info.frames = self.core.info.frames;
        let old = std::mem::replace(&mut self.core, core);
        // The new run continues exactly where the old one ended: carry the codec's state over.
        let codec_kept = crossed.is_some() && anchor_frame == target && self.core.adopt_codec(old);
        self.change = crossed.map(|b| StreamChange {
            kind: b.kind,
            pos: b.pos,
            media_info: b.media_info,
            info: self.core.info.clone(),
            codec_kept,
        });
        Ok(true)
    }
}

/// The init section an fMP4 segment at `anchor` needs in front of it: none when the anchor starts
/// with one, else the one at the latest boundary before the anchor that starts with one, else the
/// stream's latest init section. Leaves the stream anywhere: the caller seeks back.
fn init_prefix<T: StreamType>(s: &mut Stream<T>, anchor: u64) -> io::Result<Vec<u8>> {
    if starts_with_init(s, anchor)? {
        return Ok(Vec::new());
    }
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(b) = s.source().next_boundary(from) {
        if b.pos >= anchor {
            break;
        }
        starts.push(b.pos);
        from = b.pos + 1;
    }
    for &pos in starts.iter().rev() {
        if starts_with_init(s, pos)? {
            let end = s
                .segment_layout()
                .and_then(|l| l.segment_after_byte(pos))
                .unwrap_or(anchor)
                .min(anchor);
            return read_range(s, pos, end);
        }
    }
    match s.segment_layout().and_then(|l| l.init_segment_range()) {
        Some(r) => read_range(s, r.start, r.end),
        None => Ok(Vec::new()),
    }
}

/// Whether the bytes at `pos` start with an ISO BMFF `ftyp` or `moov` box.
fn starts_with_init<T: StreamType>(s: &mut Stream<T>, pos: u64) -> io::Result<bool> {
    let head = read_range(s, pos, pos + 8)?;
    Ok(matches!(head.get(4..8), Some(b"ftyp" | b"moov")))
}

fn read_range<T: StreamType>(s: &mut Stream<T>, start: u64, end: u64) -> io::Result<Vec<u8>> {
    let len = end.saturating_sub(start).min(MAX_INIT);
    s.seek(SeekFrom::Start(start))?;
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    s.by_ref().take(len).read_to_end(&mut out)?;
    Ok(out)
}
