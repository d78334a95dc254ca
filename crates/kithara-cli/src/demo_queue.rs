//! The queue step of `kithara demo`: the bundled MP3, FLAC and HLS played as one gapless queue
//! through kithara-play into `demo.wav` (the WAV sink, as fast as decoding allows: no sound card
//! needed), then checked against the tracks' own decodes.
//!
//! The sink takes the first track's rate and channel count. A track of that format must appear
//! in the render sample for sample, back to back with its neighbours (no frame inserted, lost or
//! repeated at a join); a track of another format is converted by the player and must take
//! `ceil(frames × sink rate / its rate)` frames and equal, sample for sample, the same track
//! rendered alone through a player of the same format.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use kithara_play::{CacheChoice, Event, Player, PlayerConfig, SinkFormat, WavSink};
use kithara_stream::{dl::DownloaderConfig, AbrMode};
use url::Url;

use crate::demo_decode::DecodeRun;

/// Longest wait for the player's next event before the demo calls it stalled.
const STALL: Duration = Duration::from_secs(60);

/// What the queue rendered and how it was checked.
pub(crate) struct QueueRun {
    /// `demo.wav`.
    pub(crate) path: PathBuf,
    /// The sink's format.
    pub(crate) format: SinkFormat,
    /// Frames rendered.
    pub(crate) frames: u64,
    /// Tracks compared sample for sample, and tracks converted (checked by length).
    pub(crate) exact: usize,
    pub(crate) converted: usize,
}

/// Plays `urls` (the tracks of `decodes`, in order) through a player into `dir/demo.wav` and
/// checks the render against `decodes`. The HLS track plays the variant the decode was locked on.
pub(crate) async fn play_queue(
    dir: &Path,
    urls: Vec<Url>,
    decodes: &[(DecodeRun, usize)],
    hls_variant: usize,
) -> Result<QueueRun> {
    let Some((first, _)) = decodes.first() else {
        bail!("nothing was decoded");
    };
    let format = SinkFormat::new(first.rate, first.channels);
    let path = dir.join("demo.wav");
    let out = path.clone();
    let scratch = dir.to_path_buf();
    let same: Vec<bool> = decodes
        .iter()
        .map(|(d, _)| (d.rate, d.channels) == (format.rate, format.channels))
        .collect();
    let alone = tokio::task::spawn_blocking(move || {
        render(&out, format, urls.clone(), hls_variant)?;
        render_alone(&scratch, format, &urls, &same, hls_variant)
    })
    .await
    .context("the player thread failed")??;
    let samples = read_wav(&path)?;
    let (exact, converted) = check(&samples, format, decodes, &alone)?;
    Ok(QueueRun {
        path,
        format,
        frames: (samples.len() / usize::from(format.channels.max(1))) as u64,
        exact,
        converted,
    })
}

/// Renders the queue (blocking: the player has threads and a runtime of its own).
fn render(path: &Path, format: SinkFormat, urls: Vec<Url>, hls_variant: usize) -> Result<()> {
    let config = PlayerConfig::builder()
        // Loopback only: never through a proxy from the environment.
        .downloader(DownloaderConfig::builder().system_proxy(false).build())
        .cache(CacheChoice::Off)
        .build();
    let sink = WavSink::create(path, format)?;
    let player = Player::new(config, sink)?;
    let handle = player.handle();
    let events = handle.subscribe()?;
    handle.set_abr_mode(AbrMode::Fixed(hls_variant))?;
    for url in urls {
        handle.append(url)?;
    }
    handle.play()?;
    let outcome = loop {
        match events.recv_timeout(STALL) {
            Some(Event::QueueEnded) => break Ok(()),
            Some(Event::TrackFailed { error, .. }) => break Err(anyhow::Error::new(error)),
            Some(_) => {}
            None => break Err(anyhow::anyhow!("the player stalled")),
        }
    };
    player.close()?;
    outcome.context("playing the demo queue")
}

/// Each track not of the sink's format rendered alone through a player of that format: the
/// reference its part of the queue must equal (the same conversion from the track's start).
/// `None` for a track of the sink's format. The scratch files in `dir` are removed.
fn render_alone(
    dir: &Path,
    format: SinkFormat,
    urls: &[Url],
    same_format: &[bool],
    hls_variant: usize,
) -> Result<Vec<Option<Vec<f32>>>> {
    let mut alone = Vec::with_capacity(urls.len());
    for (i, (url, &same)) in urls.iter().zip(same_format).enumerate() {
        if same {
            alone.push(None);
            continue;
        }
        let path = dir.join(format!("demo-track{}.wav", i.saturating_add(1)));
        let rendered =
            render(&path, format, vec![url.clone()], hls_variant).and_then(|()| read_wav(&path));
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::debug!(error = %e, path = %path.display(), "scratch render not removed");
        }
        alone.push(Some(
            rendered.with_context(|| format!("rendering {url} alone"))?,
        ));
    }
    Ok(alone)
}

fn read_wav(path: &Path) -> Result<Vec<f32>> {
    let mut reader =
        hound::WavReader::open(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(reader.samples::<f32>().collect::<Result<_, _>>()?)
}

/// Checks `rendered` against the decodes back to back, and each converted track against its
/// render `alone`; returns how many tracks equal their own decodes and how many were converted.
fn check(
    rendered: &[f32],
    format: SinkFormat,
    decodes: &[(DecodeRun, usize)],
    alone: &[Option<Vec<f32>>],
) -> Result<(usize, usize)> {
    let ch = usize::from(format.channels.max(1));
    let (mut at, mut exact, mut converted) = (0usize, 0, 0);
    for ((d, _), alone) in decodes.iter().zip(alone) {
        let len = if (d.rate, d.channels) == (format.rate, format.channels) {
            let len = d.samples.len();
            let got = rendered.get(at..at.saturating_add(len));
            ensure!(
                got == Some(&d.samples[..]),
                "{}: the queue's render differs from the track's own decode (at frame {})",
                d.format,
                at / ch
            );
            exact += 1;
            len
        } else {
            converted += 1;
            let frames = d.frames().saturating_mul(u64::from(format.rate));
            let frames = frames.div_ceil(u64::from(d.rate.max(1)));
            let len = usize::try_from(frames)?.saturating_mul(ch);
            let Some(alone) = alone else {
                bail!("{}: no render of the track alone", d.format);
            };
            ensure!(
                alone.len() == len,
                "{}: rendered alone it takes {} frames, not {}",
                d.format,
                alone.len() / ch,
                frames
            );
            ensure!(
                rendered.get(at..at.saturating_add(len)) == Some(&alone[..]),
                "{}: the queue's render differs from the track rendered alone (at frame {})",
                d.format,
                at / ch
            );
            len
        };
        at = at.saturating_add(len);
    }
    ensure!(
        rendered.len() == at,
        "the queue rendered {} frames, the tracks have {}",
        rendered.len() / ch,
        at / ch
    );
    Ok((exact, converted))
}

/// Prints the queue step (step `n`).
pub(crate) fn print(out: &mut impl Write, n: usize, q: &QueueRun) -> Result<()> {
    writeln!(
        out,
        "  {n}. gapless queue MP3 → FLAC → HLS/TS through kithara-play's Player into its WAV sink"
    )?;
    writeln!(
        out,
        "     wrote {} ({:.1} s, {} Hz, {} ch, 32-bit float): {} frames, the tracks' summed\n     \
         joins verified: {} tracks equal their own decodes sample for sample, {} converted to the sink's format\n     \
         and equal to their render alone sample for sample",
        q.path.display(),
        q.frames as f64 / f64::from(q.format.rate.max(1)),
        q.format.rate,
        q.format.channels,
        q.frames,
        q.exact,
        q.converted
    )?;
    Ok(())
}
