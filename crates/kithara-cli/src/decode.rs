//! `kithara decode`: a URL or file to 32-bit float PCM.
//!
//! The input is opened with [`open_any`](crate::source::open_any); `--start` uses the decoder's
//! frame-accurate seek, `--duration` keeps exactly `round(duration × rate)` frames (fewer only if
//! the track ends first), `--rate` converts with [`Resampler`]; the frames go to a [`Sink`].

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use kithara_play::Resampler;
use kithara_storage::AssetStore;

use crate::{
    args::{DecodeArgs, Output},
    progress,
    sink::{self, Sink},
    source::{self, Input, OpenOptions},
    Ui,
};

/// What a decode produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Frames written.
    pub(crate) frames: u64,
    /// Their rate.
    pub(crate) rate: u32,
    /// Their channel count.
    pub(crate) channels: u16,
}

pub(crate) async fn run(args: DecodeArgs, ui: Ui, cache: Option<AssetStore>) -> Result<()> {
    sink::check_output(&args.output)?;
    let mut options = OpenOptions::new(args.timeout, cache)?;
    options.variant = args.variant;
    options.audio_language = args.audio_lang.clone();
    let started = Instant::now();
    let input = source::open_any(args.source.clone(), &options).await?;
    let label = input.label.clone();
    let output = args.output.clone();
    let bar_ui = ui.progress;
    let window = Window {
        start: args.start,
        duration: args.duration,
        rate: args.rate,
    };
    let abort = Arc::clone(&input.abort);
    let stop = Arc::new(AtomicBool::new(false));
    let job_stop = Arc::clone(&stop);
    let job =
        tokio::task::spawn_blocking(move || decode(input, &output, window, bar_ui, &job_stop));
    tokio::pin!(job);
    let joined = tokio::select! {
        joined = &mut job => joined,
        () = interrupted() => {
            // Wakes a blocked read and stops the loop; the job then removes OUT.part.
            stop.store(true, Ordering::Relaxed);
            abort();
            let _ = (&mut job).await;
            bail!("interrupted");
        }
    };
    let decoded = joined.context("the decoder thread failed")??;
    if ui.summary {
        let secs = decoded.frames as f64 / f64::from(decoded.rate.max(1));
        let elapsed = started.elapsed().as_secs_f64().max(1e-6);
        let dest = match &args.output {
            Output::Stdout => String::from("stdout"),
            Output::Wav(p) | Output::F32(p) => p.display().to_string(),
        };
        eprintln!(
            "decoded {secs:.3} s of {label} ({} frames, {} Hz, {} ch) in {elapsed:.2} s ({:.0}× realtime) to {dest}",
            decoded.frames,
            decoded.rate,
            decoded.channels,
            secs / elapsed
        );
    }
    Ok(())
}

/// The part of the track to decode.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Window {
    /// Where to start.
    pub(crate) start: Option<Duration>,
    /// How much to keep.
    pub(crate) duration: Option<Duration>,
    /// Output rate (default: the track's).
    pub(crate) rate: Option<u32>,
}

/// Frames in `d` at `rate`, rounded to the nearest frame.
pub(crate) fn frames_in(d: Duration, rate: u32) -> u64 {
    let frames = (d.as_nanos() * u128::from(rate) + 500_000_000) / 1_000_000_000;
    u64::try_from(frames).unwrap_or(u64::MAX)
}

/// Resolves on Ctrl-C (never, if the handler cannot be installed).
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Decodes `input` into `output` (blocking) until the end, the window's end, or `stop`. Removes a
/// partial output file on failure.
pub(crate) fn decode(
    input: Input,
    output: &Output,
    window: Window,
    bar: bool,
    stop: &AtomicBool,
) -> Result<Decoded> {
    let Input { mut pcm, label, .. } = input;
    let info = pcm.info().clone();
    let (in_rate, channels) = (info.sample_rate, info.channels);
    if in_rate == 0 || channels == 0 {
        bail!("{label}: the track declares no sample rate or channel count");
    }
    if let Some(start) = window.start {
        pcm.seek(start)
            .with_context(|| format!("seeking to {:.3} s", start.as_secs_f64()))?;
    }
    let out_rate = window.rate.unwrap_or(in_rate);
    let mut resampler = if out_rate == in_rate {
        None
    } else {
        Some(Resampler::new(in_rate, out_rate, channels)?)
    };
    let limit = window.duration.map(|d| frames_in(d, out_rate));
    let total = window.duration.or_else(|| {
        info.duration
            .map(|d| d.saturating_sub(window.start.unwrap_or_default()))
    });
    let bar = progress::time_bar(total, bar);
    let mut sink = Sink::create(output, out_rate, channels)?;
    let ch = usize::from(channels);
    let mut written: u64 = 0;
    let result = (|| -> Result<()> {
        let mut emit = |samples: &[f32], sink: &mut Sink| -> Result<bool> {
            let frames = (samples.len() / ch) as u64;
            let take = limit.map_or(frames, |l| frames.min(l.saturating_sub(written)));
            sink.write(&samples[..usize::try_from(take).unwrap_or(usize::MAX) * ch])?;
            written += take;
            bar.set_position(written * 1000 / u64::from(out_rate));
            Ok(limit.is_some_and(|l| written >= l))
        };
        let mut done = false;
        while !done {
            if stop.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            let Some(chunk) = pcm.next_chunk()? else {
                break;
            };
            if chunk.channels != channels || chunk.sample_rate != in_rate {
                bail!(
                    "{label}: the format changed mid-stream ({} Hz, {} ch → {} Hz, {} ch)",
                    in_rate,
                    channels,
                    chunk.sample_rate,
                    chunk.channels
                );
            }
            done = match &mut resampler {
                Some(r) => {
                    let mut out = Vec::new();
                    r.push(&chunk.samples, &mut out)?;
                    emit(&out, &mut sink)?
                }
                None => emit(&chunk.samples, &mut sink)?,
            };
        }
        if !done {
            if let Some(r) = resampler.take() {
                let mut out = Vec::new();
                r.finish(&mut out)?;
                emit(&out, &mut sink)?;
            }
        }
        Ok(())
    })();
    bar.finish_and_clear();
    match result {
        Ok(()) => sink.finish()?,
        Err(e) => {
            sink.discard();
            return Err(e);
        }
    }
    Ok(Decoded {
        frames: written,
        rate: out_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_a_duration() {
        assert_eq!(frames_in(Duration::from_millis(1500), 22_050), 33_075);
        assert_eq!(frames_in(Duration::from_secs(2), 48_000), 96_000);
        assert_eq!(frames_in(Duration::from_nanos(11_338), 44_100), 1);
    }
}
