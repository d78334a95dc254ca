//! [`Converter`]: decoded chunks to the sink's format: channels mapped, then the rate converted
//! with one [`Resampler`] per run of equal input rates, so a join of two tracks of the same rate
//! goes through one conversion state (no smear, no gap).

use crate::{resample::Resampler, Result};

/// Converts chunks of any rate and channel count to the sink's.
#[derive(Debug)]
pub(crate) struct Converter {
    rate: u32,
    channels: u16,
    /// The resampling run, when the input rate differs from the sink's.
    run: Option<Run>,
    /// Interleaved samples mapped to the sink's channels (scratch).
    mapped: Vec<f32>,
}

#[derive(Debug)]
struct Run {
    resampler: Resampler,
    /// Output frame index (in the ring's numbering) where the run's first frame goes.
    base: u64,
}

impl Converter {
    /// A converter to `rate` Hz and `channels` channels.
    pub(crate) fn new(rate: u32, channels: u16) -> Self {
        Self {
            rate,
            channels,
            run: None,
            mapped: Vec::new(),
        }
    }

    /// Converts `samples` (`channels`, `rate`) and appends the result to `out`; `produced` is the
    /// output frame index (in the ring's numbering) of `out`'s end before the call.
    pub(crate) fn push(
        &mut self,
        samples: &[f32],
        rate: u32,
        channels: u16,
        produced: u64,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let start = out.len();
        self.mapped.clear();
        map_channels(samples, channels, self.channels, &mut self.mapped);
        if rate == self.rate {
            self.finish(out)?;
            out.extend_from_slice(&self.mapped);
            return Ok(());
        }
        if self.run.as_ref().map(|r| r.resampler.input_rate()) != Some(rate) {
            self.finish(out)?;
            let tail = (out.len() - start) / usize::from(self.channels.max(1));
            let base = produced + tail as u64;
            self.run = Some(Run {
                resampler: Resampler::new(rate, self.rate, self.channels)?,
                base,
            });
        }
        if let Some(run) = &mut self.run {
            run.resampler.push(&self.mapped, out)?;
        }
        Ok(())
    }

    /// Flushes the resampling run (its tail) into `out`: at a change of rate, before a new rate
    /// starts, or at the end of the queue.
    pub(crate) fn finish(&mut self, out: &mut Vec<f32>) -> Result<()> {
        if let Some(run) = self.run.take() {
            run.resampler.finish(out)?;
        }
        Ok(())
    }

    /// The output rate in Hz.
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// Whether a track at `rate` continues the current conversion state.
    pub(crate) fn continues(&self, rate: u32) -> bool {
        match &self.run {
            Some(run) => run.resampler.input_rate() == rate,
            None => true,
        }
    }

    /// The output frame index where the input pushed so far ends: `produced` without
    /// resampling, else the run's base plus its expected output (the tail may still be inside
    /// the resampler).
    pub(crate) fn input_end(&self, produced: u64) -> u64 {
        match &self.run {
            Some(run) => run.base + run.resampler.expected_out(),
            None => produced,
        }
    }

    /// Forgets the conversion state (after a flush: the next audio does not continue the last).
    pub(crate) fn reset(&mut self) {
        self.run = None;
    }
}

/// Maps interleaved `samples` from `from` channels to `to` channels: equal counts copy, mono is
/// copied to every output channel, a downmix to mono averages, otherwise channels are taken in
/// order and missing ones repeat the last.
fn map_channels(samples: &[f32], from: u16, to: u16, out: &mut Vec<f32>) {
    let (from, to) = (usize::from(from.max(1)), usize::from(to.max(1)));
    if from == to {
        out.extend_from_slice(samples);
        return;
    }
    for frame in samples.chunks_exact(from) {
        if to == 1 {
            out.push(frame.iter().sum::<f32>() / from as f32);
        } else {
            for c in 0..to {
                out.push(frame[c.min(from - 1)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_mapped() {
        let mut out = Vec::new();
        map_channels(&[0.1, 0.2], 1, 2, &mut out);
        assert_eq!(out, [0.1, 0.1, 0.2, 0.2]);
        out.clear();
        map_channels(&[0.2, 0.4], 2, 1, &mut out);
        assert!((out[0] - 0.3).abs() < 1e-6);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn equal_rates_pass_through_and_runs_are_placed() {
        let mut c = Converter::new(22_050, 2);
        let mut out = Vec::new();
        c.push(&[0.5; 20], 22_050, 2, 0, &mut out).unwrap();
        assert_eq!(out, [0.5; 20]);
        assert_eq!(c.input_end(10), 10);
        c.push(&[0.5; 1600], 16_000, 1, 10, &mut out).unwrap();
        assert!(!c.continues(22_050) && c.continues(16_000));
        assert_eq!(c.input_end(0), 10 + 2205);
    }
}
