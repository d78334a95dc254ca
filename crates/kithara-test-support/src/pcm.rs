//! Reference PCM made by another decoder (ffmpeg) and the comparisons tests make against it:
//! lag alignment by cross-correlation and signal-to-noise ratio in dB.
//!
//! Decoders disagree on where a lossy stream starts: MP3 encoder delay, AAC priming frames (the MP4
//! reader of symphonia keeps the 1024 priming samples that ffmpeg trims with the edit list), Vorbis
//! pre-skip. [`compare`] therefore first finds the lag between the two signals, then measures the
//! SNR over the frames they share.

use std::{io, path::PathBuf};

/// Interleaved PCM with its format.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// Interleaved samples in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
}

impl Pcm {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }
}

/// The directory holding the committed reference PCM.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Loads a committed reference (`chirp-mp3.wav`, `chirp-aac.wav`, `chirp-vorbis.wav`,
/// `hls-v0.wav`; the first seconds of `chirp-opus.wav`, `chirp-he.wav`, `chirp-he2.wav`), converted
/// to `f32`.
///
/// # Errors
///
/// The file is missing or is not a 16-bit integer WAV.
pub fn reference(name: &str) -> io::Result<Pcm> {
    let path = fixtures_dir().join(name);
    let file = std::fs::File::open(&path)
        .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
    wav16(io::BufReader::new(file), &path.display().to_string())
}

/// Loads a bundled media file that is 16-bit PCM WAV (`chirp.wav`), converted to `f32`. ffmpeg made
/// it, and ffmpeg's decode of `chirp.flac` is identical to it (`scripts/make-fixtures.sh` checks), so
/// it is the reference of the lossless fixtures.
///
/// # Errors
///
/// When the file is not bundled or is not 16-bit integer PCM.
pub fn media_reference(name: &str) -> io::Result<Pcm> {
    let file = kithara_loopback::media::get(name)
        .ok_or_else(|| io::Error::other(format!("{name}: not a bundled media file")))?;
    wav16(io::Cursor::new(file.bytes), name)
}

fn wav16(source: impl io::Read, what: &str) -> io::Result<Pcm> {
    let reader =
        hound::WavReader::new(source).map_err(|e| io::Error::other(format!("{what}: {e}")))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(io::Error::other(format!(
            "{what}: expected 16-bit integer PCM, found {spec:?}"
        )));
    }
    let samples = reader
        .into_samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::other(format!("{what}: {e}")))?;
    Ok(Pcm {
        samples,
        sample_rate: spec.sample_rate,
        channels: spec.channels,
    })
}

/// The outcome of [`compare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Frames by which the decoded signal lags the reference: `decoded[i + lag] ≈ reference[i]`.
    pub lag: i64,
    /// Signal-to-noise ratio over the shared frames, in dB (`f64::INFINITY` when identical).
    pub snr_db: f64,
    /// Frames compared.
    pub frames: usize,
}

/// Aligns `decoded` to `reference` (both interleaved with `channels` channels) within ±`max_lag`
/// frames, then returns the SNR of `decoded` against `reference` over the frames both have.
///
/// The lag is the one maximising the cross-correlation of the channel sums over a window of up to
/// 8192 frames taken a quarter of the way into the reference (past any start-up transient).
pub fn compare(reference: &[f32], decoded: &[f32], channels: u16, max_lag: usize) -> Comparison {
    let ch = usize::from(channels.max(1));
    let mono = |s: &[f32]| -> Vec<f64> {
        s.chunks_exact(ch)
            .map(|f| f.iter().map(|&x| f64::from(x)).sum())
            .collect()
    };
    let (r, d) = (mono(reference), mono(decoded));
    let lag = best_lag(&r, &d, max_lag);
    let (mut signal, mut noise, mut frames) = (0.0f64, 0.0f64, 0usize);
    for (i, rf) in reference.chunks_exact(ch).enumerate() {
        let Some(j) = i64::try_from(i).ok().and_then(|i| i.checked_add(lag)) else {
            continue;
        };
        let Ok(j) = usize::try_from(j) else { continue };
        let Some(df) = decoded.get(j * ch..(j + 1) * ch) else {
            break;
        };
        frames += 1;
        for (&a, &b) in rf.iter().zip(df) {
            signal += f64::from(a) * f64::from(a);
            noise += (f64::from(a) - f64::from(b)).powi(2);
        }
    }
    let snr_db = if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    };
    Comparison {
        lag,
        snr_db,
        frames,
    }
}

fn best_lag(r: &[f64], d: &[f64], max_lag: usize) -> i64 {
    let max_lag = i64::try_from(max_lag).unwrap_or(i64::MAX);
    let win = 8192.min(r.len() / 2);
    let start = r.len() / 4;
    let mut best = (f64::NEG_INFINITY, 0i64);
    for lag in -max_lag..=max_lag {
        let mut acc = 0.0;
        for (k, &x) in r.iter().enumerate().skip(start).take(win) {
            let j = k as i64 + lag;
            if let Some(&y) = usize::try_from(j).ok().and_then(|j| d.get(j)) {
                acc += x * y;
            }
        }
        if acc > best.0 {
            best = (acc, lag);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_lag_and_measures_noise() {
        let reference = reference("chirp-mp3.wav").expect("fixture");
        assert_eq!((reference.sample_rate, reference.channels), (22_050, 2));
        // Delay by 37 frames and add a small error.
        let mut delayed = vec![0.0; 37 * 2];
        delayed.extend(reference.samples.iter().map(|s| s * 1.001));
        let c = compare(&reference.samples, &delayed, 2, 200);
        assert_eq!(c.lag, 37);
        assert!((c.snr_db - 60.0).abs() < 0.5, "{c:?}");
        assert_eq!(c.frames, reference.frames());
        let same = compare(&reference.samples, &reference.samples, 2, 10);
        assert_eq!((same.lag, same.snr_db), (0, f64::INFINITY));
    }
}
