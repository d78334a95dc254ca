//! The decoding step of `kithara demo`: the bundled MP3 and FLAC (`Stream<File>`) and the bundled
//! HLS ladder (`Stream<Hls>`, MPEG-TS segments) through the real stack over the loopback server,
//! opened with [`kithara_open::open_decoder`], timed and verified.
//!
//! For each fixture: time from opening the stream to the first PCM, decode speed as a multiple of
//! realtime (audio decoded per second of wall time, open included), and random time seeks, each
//! timed (seek → first PCM) and checked: the samples after the seek must equal the linear decode at
//! the requested frame. The decoded audio is returned for `demo.wav`.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use kithara_file::StorageKind;
use kithara_loopback::LoopbackServer;
use kithara_open::{AnyDecoder, HlsOptions, OpenOptions};
use kithara_stream::{dl::Downloader, AbrMode};

/// Where the bundled media are mounted on the demo server.
pub(crate) const MEDIA: &str = "/media";
/// The fixtures decoded by the demo: label and bundled file name.
pub(crate) const FIXTURES: [(&str, &str); 2] = [("MP3", "chirp.mp3"), ("FLAC", "chirp.flac")];

/// The bundled HLS ladder, and the variant the demo locks it on.
pub(crate) const HLS: &str = "hls/master.m3u8";
pub(crate) const HLS_VARIANT: usize = 2;

/// One row of the decoding table, plus the decoded audio.
pub(crate) struct DecodeRun {
    /// `MP3`, `FLAC`.
    pub(crate) format: &'static str,
    /// Opening the stream → first PCM chunk.
    pub(crate) first_pcm: Duration,
    /// Seconds of audio per second of wall time (open and whole decode).
    pub(crate) speed: f64,
    /// Seek → first PCM, one per seek.
    pub(crate) seek_latencies: Vec<Duration>,
    /// The whole decode, interleaved.
    pub(crate) samples: Vec<f32>,
    /// Its rate.
    pub(crate) rate: u32,
    /// Its channel count.
    pub(crate) channels: u16,
}

impl DecodeRun {
    /// Frames decoded.
    pub(crate) fn frames(&self) -> u64 {
        (self.samples.len() / usize::from(self.channels.max(1))) as u64
    }
}

/// Decodes the bundled `name` from `server`, then does `seeks` verified random seeks.
pub(crate) async fn decode_fixture(
    server: &LoopbackServer,
    downloader: &Downloader,
    (format, name): (&'static str, &'static str),
    seeks: u32,
    seed: u64,
) -> Result<DecodeRun> {
    let url = server.url(&format!("{MEDIA}/{name}"));
    let started = Instant::now();
    let options = OpenOptions::builder()
        .downloader(downloader.clone())
        .storage(StorageKind::Memory)
        .build();
    let decoder = kithara_open::open_decoder(url, options).await?;
    decode_stream(decoder, format, name, seeks, seed, started).await
}

/// The bundled HLS ladder, locked on its top variant (so that every seek is checked against the
/// same encoding), decoded and seeked like the files.
pub(crate) async fn decode_hls(
    server: &LoopbackServer,
    downloader: &Downloader,
    seeks: u32,
    seed: u64,
) -> Result<DecodeRun> {
    let name = HLS;
    let url = server.url(&format!("{MEDIA}/{name}"));
    let started = Instant::now();
    let options = OpenOptions::builder()
        .downloader(downloader.clone())
        .hls(
            HlsOptions::builder()
                .abr_mode(AbrMode::Fixed(HLS_VARIANT))
                .build(),
        )
        .build();
    let decoder = kithara_open::open_decoder(url, options).await?;
    decode_stream(decoder, "HLS/TS", name, seeks, seed, started).await
}

/// Decodes `decoder` whole, then does `seeks` verified random time seeks.
async fn decode_stream(
    mut decoder: AnyDecoder,
    format: &'static str,
    name: &'static str,
    seeks: u32,
    seed: u64,
    started: Instant,
) -> Result<DecodeRun> {
    tokio::task::spawn_blocking(move || -> Result<DecodeRun> {
        let info = decoder.info().clone();
        let Some(first) = decoder.next_chunk()? else {
            bail!("{name}: no audio");
        };
        let first_pcm = started.elapsed();
        let mut samples = first.samples;
        while let Some(chunk) = decoder.next_chunk()? {
            samples.extend_from_slice(&chunk.samples);
        }
        let wall = started.elapsed().as_secs_f64().max(1e-6);
        let (rate, channels) = (info.sample_rate, info.channels);
        let ch = usize::from(channels.max(1));
        let frames = samples.len() / ch;
        ensure!(frames > 0 && rate > 0, "{name}: no audio decoded");
        let speed = frames as f64 / f64::from(rate) / wall;

        let mut rng = fastrand::Rng::with_seed(seed);
        let mut seek_latencies = Vec::with_capacity(seeks as usize);
        for _ in 0..seeks {
            let frame = rng.usize(0..frames.saturating_sub(1).max(1));
            // The media time of `frame` (rounded up to the nanosecond, so it rounds back to it).
            let nanos = (frame as u64 * 1_000_000_000).div_ceil(u64::from(rate));
            let at = Duration::from_nanos(nanos);
            let began = Instant::now();
            decoder
                .seek(at)
                .with_context(|| format!("{name}: seeking to {at:?}"))?;
            let chunk = decoder
                .next_chunk()?
                .with_context(|| format!("{name}: no audio after seeking to {at:?}"))?;
            seek_latencies.push(began.elapsed());
            let want = samples
                .get(frame * ch..frame * ch + chunk.samples.len())
                .context("a chunk after a seek runs past the end of the linear decode")?;
            ensure!(
                chunk.samples == want,
                "{name}: the PCM after seeking to frame {frame} differs from the linear decode"
            );
        }
        Ok(DecodeRun {
            format,
            first_pcm,
            speed,
            seek_latencies,
            samples,
            rate,
            channels,
        })
    })
    .await
    .context("the decoder thread failed")?
}
