//! Streaming sample-rate conversion of interleaved `f32` with rubato's synchronous FFT resampler.
//!
//! [`Resampler::push`] takes decoded chunks of any size and returns the converted frames available
//! so far; [`Resampler::finish`] flushes the tail. The resampler's start-up delay is trimmed, and the
//! total output is `ceil(input frames × out / in)` frames, so a converted file keeps its duration.

use anyhow::{Context, Result};
use rubato::{
    audioadapter_buffers::direct::InterleavedSlice, Fft, FixedSync, Indexing, Resampler as _,
};

/// Input frames per FFT chunk: large enough to be efficient, small enough to stream.
const CHUNK: usize = 1024;

/// Converts interleaved `f32` from one rate to another.
pub(crate) struct Resampler {
    inner: Fft<f32>,
    channels: usize,
    /// Input and output rates.
    rates: (u64, u64),
    /// Input not yet consumed, interleaved.
    pending: Vec<f32>,
    /// Scratch output, interleaved, `output_frames_max` frames.
    scratch: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    to_trim: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz for `channels` channels.
    pub(crate) fn new(from: u32, to: u32, channels: u16) -> Result<Self> {
        let channels = usize::from(channels.max(1));
        let inner = Fft::<f32>::new(
            from as usize,
            to as usize,
            CHUNK,
            channels,
            FixedSync::Input,
        )
        .with_context(|| format!("cannot resample from {from} Hz to {to} Hz"))?;
        let scratch = vec![0.0; inner.output_frames_max() * channels];
        let to_trim = inner.output_delay();
        Ok(Self {
            inner,
            channels,
            rates: (u64::from(from), u64::from(to)),
            pending: Vec::new(),
            scratch,
            to_trim,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Adds interleaved `samples`; returns the converted samples available now.
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>> {
        self.frames_in += (samples.len() / self.channels) as u64;
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        loop {
            let need = self.inner.input_frames_next();
            if self.pending.len() / self.channels < need {
                break;
            }
            let used = self.process(need, None, &mut out)?;
            self.pending.drain(..used * self.channels);
        }
        Ok(out)
    }

    /// Flushes the remaining input; returns the last converted samples.
    pub(crate) fn finish(mut self) -> Result<Vec<f32>> {
        let expected = (self.frames_in * self.rates.1).div_ceil(self.rates.0.max(1));
        let mut out = Vec::new();
        let mut partial = self.pending.len() / self.channels;
        // The remaining frames, then zeros, until every input frame has come out; bounded, since
        // each round yields output once the delay is covered.
        for _ in 0..64 {
            if self.frames_out >= expected {
                break;
            }
            let need = self.inner.input_frames_next();
            self.pending.resize(need * self.channels, 0.0);
            self.process(need, Some(partial), &mut out)?;
            self.pending.clear();
            partial = 0;
        }
        let excess = usize::try_from(self.frames_out.saturating_sub(expected)).unwrap_or(0);
        out.truncate(out.len().saturating_sub(excess * self.channels));
        Ok(out)
    }

    /// Runs one chunk of `frames` input frames from `pending` (`partial` real frames, the rest
    /// zeros), appending the output after the delay trim to `out`. Returns the frames consumed.
    fn process(
        &mut self,
        frames: usize,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        let input = InterleavedSlice::new(
            &self.pending[..frames * self.channels],
            self.channels,
            frames,
        )
        .context("resampler input layout")?;
        let max_out = self.scratch.len() / self.channels;
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, self.channels, max_out)
            .context("resampler output layout")?;
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (used, produced) = self
            .inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .context("resampling failed")?;
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
    fn conversion_keeps_the_duration_and_the_tone() {
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
            out.extend(r.push(chunk).unwrap());
        }
        out.extend(r.finish().unwrap());
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
        let mut out = r.push(&[0.25; 1001]).unwrap();
        out.extend(r.finish().unwrap());
        assert_eq!(out.len(), 460);
        // A constant stays constant away from the edges.
        assert!(
            out[100..360].iter().all(|v| (v - 0.25).abs() < 0.01),
            "{:?}",
            &out[100..110]
        );
    }
}
