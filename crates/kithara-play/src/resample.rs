//! [`Resampler`]: streaming sample-rate conversion of interleaved `f32` with rubato's synchronous
//! FFT resampler; its start-up delay is trimmed, so output frame `k` is input time `k / to`.
//!
//! [`Resampler::push`] takes chunks of any size and appends the converted frames available so
//! far; [`Resampler::finish`] flushes the tail, so the whole output is
//! `ceil(input frames × to / from)` frames.

use rubato::{
    audioadapter_buffers::direct::InterleavedSlice, Fft, FixedSync, Indexing, Resampler as _,
};

use crate::{Error, Result};

/// Input frames per FFT chunk: large enough to be efficient, small enough to stream.
const CHUNK: usize = 1024;

/// Converts interleaved `f32` from one rate to another (the player's conversion to the sink's
/// rate, also used by `kithara decode --rate`).
pub struct Resampler {
    inner: Fft<f32>,
    channels: usize,
    /// Input and output rates.
    rates: (u32, u32),
    /// Input not yet consumed, interleaved.
    pending: Vec<f32>,
    /// Scratch output, interleaved, `output_frames_max` frames.
    scratch: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    to_trim: usize,
    frames_in: u64,
    frames_out: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("rates", &self.rates)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz for `channels` channels.
    ///
    /// # Errors
    /// [`Error::Convert`] when rubato refuses the pair of rates.
    pub fn new(from: u32, to: u32, channels: u16) -> Result<Self> {
        let err = |reason: String| Error::Convert {
            from,
            to,
            channels,
            reason,
        };
        let ch = usize::from(channels.max(1));
        let inner = Fft::<f32>::new(from as usize, to as usize, CHUNK, ch, FixedSync::Input)
            .map_err(|e| err(e.to_string()))?;
        let scratch = vec![0.0; inner.output_frames_max() * ch];
        let to_trim = inner.output_delay();
        Ok(Self {
            inner,
            channels: ch,
            rates: (from, to),
            pending: Vec::new(),
            scratch,
            to_trim,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// The input rate.
    pub(crate) fn input_rate(&self) -> u32 {
        self.rates.0
    }

    /// Output frames the input so far stands for: `ceil(frames in × to / from)`.
    pub(crate) fn expected_out(&self) -> u64 {
        (self.frames_in * u64::from(self.rates.1)).div_ceil(u64::from(self.rates.0.max(1)))
    }

    /// Adds interleaved `samples`; appends the converted samples available now to `out`.
    ///
    /// # Errors
    /// [`Error::Convert`] when rubato fails on the chunk.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.frames_in += (samples.len() / self.channels) as u64;
        self.pending.extend_from_slice(samples);
        loop {
            let need = self.inner.input_frames_next();
            if self.pending.len() / self.channels < need {
                break;
            }
            let used = self.process(need, None, out)?;
            self.pending.drain(..used * self.channels);
        }
        Ok(())
    }

    /// Flushes the remaining input; appends the last converted samples to `out`.
    ///
    /// # Errors
    /// [`Error::Convert`] when rubato fails on the tail.
    pub fn finish(mut self, out: &mut Vec<f32>) -> Result<()> {
        let expected = self.expected_out();
        let start = out.len();
        let mut partial = self.pending.len() / self.channels;
        // The remaining frames, then zeros, until every input frame has come out; bounded, since
        // each round yields output once the delay is covered.
        for _ in 0..64 {
            if self.frames_out >= expected {
                break;
            }
            let need = self.inner.input_frames_next();
            self.pending.resize(need * self.channels, 0.0);
            self.process(need, Some(partial), out)?;
            self.pending.clear();
            partial = 0;
        }
        let excess = usize::try_from(self.frames_out.saturating_sub(expected)).unwrap_or(0);
        let keep = out.len().saturating_sub(excess * self.channels).max(start);
        out.truncate(keep);
        Ok(())
    }

    /// Runs one chunk of `frames` input frames from `pending` (`partial` real frames, the rest
    /// zeros), appending the output after the delay trim to `out`. Returns the frames consumed.
    fn process(
        &mut self,
        frames: usize,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        let (from, to) = self.rates;
        let channels = self.channels as u16;
        let err = |reason: String| Error::Convert {
            from,
            to,
            channels,
            reason,
        };
        let input = InterleavedSlice::new(
            &self.pending[..frames * self.channels],
            self.channels,
            frames,
        )
        .map_err(|e| err(e.to_string()))?;
        let max_out = self.scratch.len() / self.channels;
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, self.channels, max_out)
            .map_err(|e| err(e.to_string()))?;
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (used, produced) = self
            .inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| err(e.to_string()))?;
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        out.extend_from_slice(&self.scratch[skip * self.channels..produced * self.channels]);
        self.frames_out += (produced - skip) as u64;
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn conversion_keeps_the_duration() {
        let mut r = Resampler::new(16_000, 22_050, 1).unwrap();
        let mut out = Vec::new();
        for _ in 0..10 {
            r.push(&[0.25; 1601], &mut out).unwrap();
        }
        assert_eq!(r.expected_out(), (16_010u64 * 22_050).div_ceil(16_000));
        let expected = r.expected_out() as usize;
        r.finish(&mut out).unwrap();
        assert_eq!(out.len(), expected);
        assert!(out[200..20_000].iter().all(|v| (v - 0.25).abs() < 0.01));
    }

    #[test]
    fn conversion_keeps_the_tone() {
        let (from, to) = (22_050u32, 48_000u32);
        // 1 s of a 440 Hz stereo sine, pushed in uneven chunks.
        let input: Vec<f32> = (0..from as usize)
            .flat_map(|i| {
                let v = (i as f32 * 440.0 * std::f32::consts::TAU / from as f32).sin() * 0.5;
                [v, v]
            })
            .collect();
        let mut r = Resampler::new(from, to, 2).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(2 * 777) {
            r.push(chunk, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        assert_eq!(out.len(), 2 * to as usize);
        // The resampled tone at frame n equals the sine at n/to seconds (delay trimmed).
        let err: f32 = (2000..46_000)
            .map(|n| {
                let want = (n as f32 * 440.0 * std::f32::consts::TAU / to as f32).sin() * 0.5;
                (out[2 * n] - want).abs()
            })
            .fold(0.0, f32::max);
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn downsampling_of_odd_lengths_rounds_up() {
        // 1001 frames at 48 kHz → ceil(1001 × 22050 / 48000) = 460 frames, mono.
        let mut r = Resampler::new(48_000, 22_050, 1).unwrap();
        let mut out = Vec::new();
        r.push(&[0.25; 1001], &mut out).unwrap();
        r.finish(&mut out).unwrap();
        assert_eq!(out.len(), 460);
        // A constant stays constant away from the edges.
        assert!(
            out[100..360].iter().all(|v| (v - 0.25).abs() < 0.01),
            "{:?}",
            &out[100..110]
        );
    }
}
