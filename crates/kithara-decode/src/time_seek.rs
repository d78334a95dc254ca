//! Seeking through the stream's seek by time: the stream maps the time to a byte (for a
//! segmented stream, the start of the segment holding it; its `seek_time`), a new format reader
//! opens there, and the output before the target is decoded and discarded, so the first frame
//! handed out is the one at the target. A stream that cannot map time
//! (`Error::TimeSeekUnsupported`, a progressive file) leaves the seek to the format reader.
//!
//! The stream is asked for the target less the codec's pre-roll (two AAC frames), so when the
//! target sits at the very start of a segment the reader starts in the previous one and the first
//! frame returned has its overlap partner. When the bytes at the anchor need an initialisation
//! section laid out before them ([`TimeAnchor::init`](kithara_stream::TimeAnchor::init), an fMP4
//! `EXT-X-MAP`), it is read again and put in front of them.

use std::{
    io::{self, Read, Seek, SeekFrom},
    ops::Range,
    sync::Arc,
    time::Duration,
};

use kithara_stream::{Boundary, MediaInfo, Source, Stream, StreamType};

use crate::{
    change::StreamChange,
    chunk::{duration_to_frames, frames_to_duration},
    decoder::{open_core, Decoder},
    engine::Core,
    error::Error,
    media_source::lock,
    Result,
};

/// The most bytes read as an init section (that of an audio rendition is a few hundred).
const MAX_INIT: u64 = 1 << 20;

impl<T: StreamType> Decoder<T> {
    /// [`Decoder::seek`] through the stream's seek by time; `Ok(false)` for a stream that cannot
    /// map time but can seek bytes (a progressive file), so the format reader's own seek applies.
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
            self.core.preroll()
        };
        let from = frames_to_duration(target.saturating_sub(preroll), rate);
        let (anchor, at_anchor) = {
            let mut s = lock(&self.stream);
            let anchor = match s.seek_time(from) {
                Ok(a) => a,
                Err(kithara_stream::Error::TimeSeekUnsupported) if s.source().is_seekable() => {
                    return Ok(false)
                }
                // A stream that can seek neither by time nor by byte (live): the format reader's
                // seek would rewind into bytes that no longer mean the same media.
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
            let at_anchor = s.start_window().and_then(|b| b.media_info);
            (anchor, at_anchor)
        };
        tracing::debug!(target = ?to, anchor_pos = anchor.pos, anchor_time = ?anchor.time, init = ?anchor.init, "seek by time: new reader at the anchor");
        let hints = self.hints_at(at_anchor);
        let mut core = self.reader_at(anchor.pos, anchor.init.clone(), hints)?;
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
            variant: b.media_info.and_then(|m| m.variant_index),
            info: self.core.info.clone(),
            codec_kept,
        });
        Ok(true)
    }

    /// A new format reader over the stream from byte `pos`, behind the init section `init` when it
    /// lies before `pos` (the bytes at `pos` need it and do not start with it).
    pub(crate) fn reader_at(
        &self,
        pos: u64,
        init: Option<Range<u64>>,
        hints: MediaInfo,
    ) -> Result<Core> {
        let prefix = self.init_prefix(pos, init)?;
        open_core(&self.stream, pos, prefix, hints, &self.origin, &self.config)
    }

    /// The bytes of the init section that the bytes at `pos` need in front of them: those of
    /// `init` when it lies before `pos`, none when there is none or the bytes at `pos` start
    /// with it. Leaves the stream at `pos`.
    fn init_prefix(&self, pos: u64, init: Option<Range<u64>>) -> Result<Arc<[u8]>> {
        let Some(range) = init.filter(|r| r.start < pos) else {
            return Ok(Arc::from(Vec::new()));
        };
        let mut s = lock(&self.stream);
        let read = read_range(&mut s, range);
        // Back to `pos` whatever happened.
        let back = s.seek(SeekFrom::Start(pos));
        let stream_err = |e: io::Error| Error::Stream {
            origin: self.origin.clone(),
            pos,
            source: e,
        };
        back.map_err(stream_err)?;
        Ok(Arc::from(read.map_err(stream_err)?))
    }
}

fn read_range<T: StreamType>(s: &mut Stream<T>, r: Range<u64>) -> io::Result<Vec<u8>> {
    let len = r.end.saturating_sub(r.start).min(MAX_INIT);
    s.seek(SeekFrom::Start(r.start))?;
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    s.by_ref().take(len).read_to_end(&mut out)?;
    Ok(out)
}
