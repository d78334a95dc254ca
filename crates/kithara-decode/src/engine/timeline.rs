//! Where a decoded packet's frames go on the output timeline: the packet trims (gapless), the
//! delay an MP4 declares, the codec's output delay (FDK AAC's) and the frames before time zero,
//! the output before a seek target, and the frames past the declared end are dropped; where a
//! reader opened mid-stream starts on it; and the bound on bytes consumed without audio (a
//! stall).

use symphonia::core::packet::Packet;

use super::Core;
use crate::{
    error::{Error, Result},
    progress::Progress,
};

impl Core {
    /// Places the first packet this reader returns at `frame` of the output timeline, and the
    /// next frame handed out there too (a reader opened at a boundary or a time-seek anchor).
    pub(crate) fn rebase(&mut self, frame: u64) {
        self.rebase = Some(frame);
        self.next_frame = frame;
        // A fresh codec's output delay is taken off its first output: what falls before `frame`
        // (its warm-up, the audio the reader before handed out) is dropped.
        self.discard_before = Some(frame);
    }

    /// Discards the output before `frame` (a seek target).
    pub(crate) fn discard_until(&mut self, frame: u64) {
        self.discard_before = Some(frame);
        self.next_frame = frame;
        self.silent_from = self.stream_pos();
    }

    /// Starts this reader's own timeline (frame 0: the first frame after the delay its file
    /// declares) at output `frame`: a file joined back to back after another.
    pub(crate) fn shift(&mut self, frame: u64) {
        let f = i64::try_from(frame).unwrap_or(i64::MAX);
        self.frame_offset = self.frame_offset.saturating_add(f);
        self.end_frame = self.end_frame.map(|e| e.saturating_add(frame));
        self.origin_frame = frame;
        self.next_frame = frame;
    }

    /// The reader's progress (position, watched bytes, joins).
    pub(crate) fn progress(&self) -> &Progress {
        &self.pos
    }

    /// A reader that consumed more than the bound of bytes since audio last went out has stalled
    /// (e.g. packets past a declared end that never comes, bytes that never decode).
    pub(super) fn check_stall(&mut self) -> Result<()> {
        let silent = self.stream_pos().saturating_sub(self.silent_from);
        if silent > self.max_silent {
            self.done = true;
            return Err(Error::Stalled {
                origin: self.origin.clone(),
                pos: self.stream_pos(),
                silent_bytes: silent,
            });
        }
        Ok(())
    }

    /// Trims `samples` (interleaved, `ch` channels) of `packet` to what goes out, and returns the
    /// output frame of the first; `None` when nothing of the packet goes out before a seek target
    /// (the caller reads on).
    pub(super) fn place(
        &mut self,
        packet: &Packet,
        samples: &mut Vec<f32>,
        ch: usize,
    ) -> Option<u64> {
        let mut start = packet.pts.get();
        if self.gapless {
            let (ts, te) = (packet.trim_start.get(), packet.trim_end.get());
            let untrimmed = packet.dur.get() + ts + te;
            // Decoders that do not trim by themselves return the whole block.
            if ts + te > 0 && (samples.len() / ch) as u64 == untrimmed {
                let front = usize::try_from(ts)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(ch)
                    .min(samples.len());
                let back = usize::try_from(te)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(ch)
                    .min(samples.len() - front);
                samples.truncate(samples.len() - back);
                samples.drain(..front);
            }
            start = start.saturating_add(i64::try_from(ts).unwrap_or(i64::MAX));
        }
        let delay = if self.trim_delay {
            self.codec.delay()
        } else {
            0
        };
        let mut start = self
            .ts_to_frames(start)
            .saturating_add(self.frame_offset)
            .saturating_sub(i64::try_from(delay).unwrap_or(i64::MAX));
        if start < 0 {
            // Frames before time zero (priming without gapless trimming, an MP4's declared
            // delay with it, the codec's output delay): dropped.
            let drop = usize::try_from(start.unsigned_abs())
                .unwrap_or(usize::MAX)
                .saturating_mul(ch)
                .min(samples.len());
            samples.drain(..drop);
            start = 0;
        }
        let mut start = start.unsigned_abs();
        if let Some(target) = self.discard_before {
            let frames = (samples.len() / ch) as u64;
            if start + frames <= target {
                return None;
            }
            if start < target {
                let drop = usize::try_from(target - start)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(ch);
                samples.drain(..drop.min(samples.len()));
                start = target;
            }
            self.discard_before = None;
        }
        if let Some(end) = self.end_frame {
            let keep = end.saturating_sub(start);
            let keep = usize::try_from(keep)
                .unwrap_or(usize::MAX)
                .saturating_mul(ch);
            samples.truncate(keep);
        }
        Some(start)
    }
}
