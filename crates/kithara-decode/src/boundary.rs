//! Crossing a boundary of the stream: the format reader that ended there is drained (the
//! [`StreamMediaSource`](crate::StreamMediaSource) presented the boundary as the end of its
//! source), a new one opens at the boundary with the facts the stream published for it, and the
//! timeline goes on from the last frame handed out.
//!
//! | boundary | new reader at | timeline | codec |
//! |---|---|---|---|
//! | variant switch, init section | the boundary, behind the init section the boundary names when the bytes after it do not start with it (`Boundary::init`) | continues | kept when the set-up is identical (its overlap state carries the audio across), else new |
//! | discontinuity | the boundary | continues (the media timestamps restart, playback time does not); a progressive MPEG audio stream's (a radio's reconnect) is a file of its own, placed as files back to back are | new |
//! | seek jump that continues the media (its time is where decoding is) | the boundary | continues | new |
//! | seek jump elsewhere (the reader got to the end of a run laid out before a seek) | the stream's time seek to the current time | continues, pre-roll decoded and discarded | new |

use kithara_stream::{Boundary, BoundaryKind, ContainerFormat, StreamType};

use crate::{
    change::StreamChange,
    chunk::{duration_to_frames, frames_to_duration},
    decoder::Decoder,
    Result,
};

/// How far (in frames) a seek jump's time may be from the decoder's position and still count as
/// continuing it: half an AAC frame.
const CONTINUES_WITHIN: u64 = 512;

impl<T: StreamType> Decoder<T> {
    /// Opens a new reader at boundary `b`, which the current one has reached.
    pub(crate) fn cross(&mut self, b: Boundary) -> Result<()> {
        let expected = self.core.next_frame;
        let rate = self.core.info.sample_rate;
        if b.kind == BoundaryKind::SeekJump {
            let continues = b.time.is_some_and(|t| {
                duration_to_frames(t, rate).abs_diff(expected) <= CONTINUES_WITHIN
            });
            // Once per position: if the stream's time map sends the reader back into the run it
            // just finished (timestamps that disagree with the playlist), go on at the boundary
            // rather than loop.
            if !continues && self.resumed_at != Some(expected) {
                self.resumed_at = Some(expected);
                let now = frames_to_duration(expected, rate);
                tracing::debug!(pos = b.pos, at = ?b.time, ?now, "a seek jump away from the decoding position: seeking back to it by time");
                if self.reopen_at_time(now, Some(b.clone()))? {
                    return Ok(());
                }
            } else if !continues {
                tracing::warn!(pos = b.pos, frame = expected, "seeking back to the decoding position led to the same seek jump: going on at the boundary");
            }
        }
        tracing::debug!(kind = %b.kind, pos = b.pos, frame = expected, init = ?b.init, "boundary: new reader");
        let hints = self.hints_at(b.media_info);
        let mut core = self.reader_at(b.pos, b.init.clone(), hints)?;
        // A progressive MPEG audio stream (an internet radio that reconnected): the bytes after
        // the boundary are a file of their own, whose delay and length its own tag declares, so
        // its own timeline starts at the next frame and its tags come with its first chunk, as
        // for files back to back. (Placing its
        // first packet there would leave a hole of its trimmed delay, and its declared end would
        // stay at its own frame count: its audio would be dropped.)
        let own_file = core.info.container == Some(ContainerFormat::MpegAudio)
            && !crate::media_source::lock(&self.stream)
                .timeline()
                .maps_time();
        if own_file {
            core.shift(expected);
            core.discard_until(expected);
            self.marks.tags(core.info.tags.now_playing());
        } else {
            core.rebase(expected);
        }
        core.info.duration = self.core.info.duration;
        core.info.frames = self.core.info.frames;
        let old = std::mem::replace(&mut self.core, core);
        let codec_kept = matches!(b.kind, BoundaryKind::VariantSwitch | BoundaryKind::Init)
            && self.core.adopt_codec(old);
        self.change = Some(StreamChange {
            kind: b.kind,
            pos: b.pos,
            media_info: b.media_info,
            variant: b.media_info.and_then(|m| m.variant_index),
            info: self.core.info.clone(),
            codec_kept,
        });
        Ok(())
    }
}
