//! [`PcmChunk`]: one run of decoded audio.

use std::time::Duration;

/// Decoded audio: interleaved `f32` frames plus where they belong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PcmChunk {
    /// Interleaved samples (`frames × channels`), nominally in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Media time of the first frame.
    pub time: Duration,
    /// The stream's read position when the packet of this chunk had been read. Readers buffer
    /// ahead (symphonia reads up to 32 KiB at a time), so this is an upper bound of the packet's
    /// end, good for mapping time to bytes and progress, not an exact packet offset.
    pub byte_pos: u64,
    /// The variant of an adaptive stream (HLS) whose bytes this chunk was decoded from: the one
    /// being heard. `None` for other streams.
    pub variant: Option<usize>,
    /// Set on the first chunk after the decoder crossed a boundary of the stream (HLS variant
    /// switch, discontinuity, new init section, seek jump); `None` otherwise.
    pub change: Option<crate::StreamChange>,
    /// The changes of what is playing heard in this chunk, in order: a metadata mark of the
    /// source whose place this chunk's audio reaches (a media time within it, or a byte its
    /// packet was decoded from), or the tags of a file whose first chunk this is. Empty (and not
    /// allocated) for most chunks.
    pub now_playing: Vec<crate::NowPlayingChange>,
}

impl PcmChunk {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Duration of the chunk.
    pub fn duration(&self) -> Duration {
        frames_to_duration(self.frames() as u64, self.sample_rate)
    }

    /// Media time just after the last frame.
    pub fn end_time(&self) -> Duration {
        self.time + self.duration()
    }
}

/// `frames` at `rate` Hz as a `Duration`, to the nanosecond.
pub(crate) fn frames_to_duration(frames: u64, rate: u32) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let rate = u64::from(rate);
    let secs = frames / rate;
    let rem = frames % rate;
    // rem < rate ≤ u32::MAX, so rem * 1e9 fits in u64.
    Duration::new(secs, u32::try_from(rem * 1_000_000_000 / rate).unwrap_or(0))
}

/// The frame index at `time` at `rate` Hz (rounded to the nearest frame).
pub(crate) fn duration_to_frames(time: Duration, rate: u32) -> u64 {
    let nanos = time.as_nanos();
    let frames = (nanos * u128::from(rate) + 500_000_000) / 1_000_000_000;
    u64::try_from(frames).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_time_round_trip() {
        for rate in [8_000, 22_050, 44_100, 48_000] {
            for f in [0u64, 1, 1023, 22_050, 1_234_567] {
                assert_eq!(duration_to_frames(frames_to_duration(f, rate), rate), f);
            }
        }
    }
}
