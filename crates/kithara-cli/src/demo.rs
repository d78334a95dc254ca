//! `kithara demo`: the headline end-to-end run, with no network and no files.
//!
//! A loopback [`LoopbackServer`] serves a generated body; the demo then runs its steps one after the
//! other, each against the same server and shared [`Downloader`], and prints one line per step:
//!
//! 1. [`full_read`]: stream the whole body like `fetch` does and verify every byte;
//! 2. [`seek_reads`]: random seek + read pairs on a second stream, verified, timing seek → first byte;
//! 3. [`decode_fixture`]: the bundled MP3 and FLAC (also served by the loopback server) decoded
//!    through `Stream<File>` → `Decoder`, and the bundled HLS ladder, with verified time seeks;
//!    printed as a table;
//! 4. [`play_queue`]: the three played as one gapless queue through kithara-play into `demo.wav`,
//!    checked against the decodes of step 3.
//!
//! A step is an async fn taking the [`Demo`] and returning a [`StepReport`]; new steps (decoding,
//! HLS) are added to [`run`]. Any byte mismatch fails the demo.

use std::{
    io::{self, Read, Seek, SeekFrom, Write},
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use kithara_file::{File, FileConfig, StorageKind};
use kithara_loopback::{payload, LoopbackServer, Route};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use url::Url;

use crate::{
    args::DemoArgs,
    demo_decode::{decode_fixture, decode_hls, DecodeRun, FIXTURES, HLS, HLS_VARIANT, MEDIA},
    demo_queue::{self, play_queue, QueueRun},
    fetch::{self, COPY_BUF},
    progress::{self, fmt_bytes},
    Ui,
};

/// Path of the demo body on the test server.
const ROUTE: &str = "/demo.bin";
/// Bytes read after each seek.
const SEEK_READ: usize = 64 * 1024;

/// What every step works with.
pub(crate) struct Demo {
    server: LoopbackServer,
    url: Url,
    body: Bytes,
    downloader: Downloader,
    seed: u64,
    ui: Ui,
}

/// The outcome of one step, as printed in the summary.
pub(crate) struct StepReport {
    /// Short name of the step.
    name: &'static str,
    /// One line of figures.
    summary: String,
    /// HTTP requests the server saw during the step.
    requests: usize,
    /// Bytes compared against the served body.
    verified: u64,
}

pub(crate) async fn run(args: DemoArgs, ui: Ui) -> Result<()> {
    ensure!(
        args.out.is_dir(),
        "cannot write demo.wav into {}: not a directory",
        args.out.display()
    );
    let demo = Demo::start(&args, ui)?;
    let mut steps = Vec::new();
    steps.push(demo.step(full_read(&demo)).await?);
    steps.push(demo.step(seek_reads(&demo, args.seeks)).await?);
    let mut decodes = Vec::new();
    for fixture in FIXTURES {
        let before = demo.server.requests().len();
        let run = decode_fixture(
            &demo.server,
            &demo.downloader,
            fixture,
            args.seeks,
            demo.seed,
        )
        .await?;
        decodes.push((run, demo.server.requests().len().saturating_sub(before)));
    }
    let before = demo.server.requests().len();
    let hls = decode_hls(&demo.server, &demo.downloader, args.seeks, demo.seed).await?;
    decodes.push((hls, demo.server.requests().len().saturating_sub(before)));
    let urls = FIXTURES
        .iter()
        .map(|(_, name)| *name)
        .chain([HLS])
        .map(|name| demo.server.url(&format!("{MEDIA}/{name}")))
        .collect();
    let queue = play_queue(&args.out, urls, &decodes, HLS_VARIANT).await?;
    demo.print_summary(&args, &steps, &decodes, &queue)
}

impl Demo {
    fn start(args: &DemoArgs, ui: Ui) -> Result<Self> {
        let size = args
            .size_mib
            .checked_mul(1 << 20)
            .and_then(|s| usize::try_from(s).ok())
            .context("--size-mib is too large for this machine")?;
        let server = LoopbackServer::start().context("could not start the loopback HTTP server")?;
        let body = payload(size, args.seed);
        let mut route = Route::new(body.clone()).content_type("application/octet-stream");
        if let Some(rate) = args.throttle {
            route = route.throttle(rate);
        }
        server.route(ROUTE, route);
        server.mount_media(MEDIA);
        let url = server.url(ROUTE);
        Ok(Self {
            server,
            url,
            body,
            // Loopback only: never through a proxy from the environment.
            downloader: Downloader::new(DownloaderConfig::builder().system_proxy(false).build())?,
            seed: args.seed,
            ui,
        })
    }

    /// Runs one step and fills in the requests the server saw meanwhile.
    async fn step(
        &self,
        step: impl std::future::Future<Output = Result<StepReport>>,
    ) -> Result<StepReport> {
        let before = self.server.requests().len();
        let mut report = step.await?;
        report.requests = self.server.requests().len().saturating_sub(before);
        Ok(report)
    }

    /// Opens a new stream of the demo body (in-memory storage: the demo leaves no files).
    async fn open(&self) -> Result<Stream<File>> {
        let config = FileConfig::remote(self.url.clone(), self.downloader.clone())
            .options(
                kithara_stream::StreamOptions::builder()
                    .storage(StorageKind::Memory)
                    .build(),
            )
            .build();
        Ok(Stream::<File>::new(config).await?)
    }

    fn print_summary(
        &self,
        args: &DemoArgs,
        steps: &[StepReport],
        decodes: &[(DecodeRun, usize)],
        queue: &QueueRun,
    ) -> Result<()> {
        let requests = self.server.requests().len();
        let stats = self.server.stats();
        let verified: u64 = steps.iter().map(|s| s.verified).sum();
        let throttle = args.throttle.map_or_else(
            || String::from("unthrottled"),
            |r| format!("throttled to {}/s", fmt_bytes(r)),
        );
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "kithara demo: {} served from {} (loopback, {throttle}, seed {})",
            fmt_bytes(self.body.len() as u64),
            self.url,
            self.seed
        )?;
        for (i, s) in steps.iter().enumerate() {
            writeln!(
                out,
                "  {}. {:<12} {} [{} HTTP request{}]",
                i + 1,
                s.name,
                s.summary,
                s.requests,
                if s.requests == 1 { "" } else { "s" }
            )?;
        }
        print_decodes(&mut out, steps.len() + 1, args.seeks, decodes)?;
        demo_queue::print(&mut out, steps.len() + 2, queue)?;
        writeln!(
            out,
            "  http requests   {requests} in total, {} of body sent",
            fmt_bytes(stats.bytes_sent)
        )?;
        let seeks: usize = decodes.iter().map(|(d, _)| d.seek_latencies.len()).sum();
        writeln!(
            out,
            "  verification    OK: {} compared, every byte matches; {seeks} time seeks land on the linear decode's samples",
            fmt_bytes(verified)
        )?;
        out.flush()?;
        Ok(())
    }
}

/// Step 1: the whole body through a stream, as `fetch` reads it, compared byte for byte.
async fn full_read(demo: &Demo) -> Result<StepReport> {
    let started = Instant::now();
    let mut stream = demo.open().await?;
    let bar = progress::bytes_bar(stream.len(), demo.ui.progress);
    let body = demo.body.clone();
    let label = demo.url.to_string();
    let task_bar = bar.clone();
    let read = tokio::task::spawn_blocking(move || {
        fetch::pump(&mut stream, &label, &task_bar, |offset, chunk| {
            verify(&body, offset, chunk)
        })
    })
    .await
    .context("the reader thread failed")??;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let len = demo.body.len() as u64;
    ensure!(
        read == len,
        "the stream ended at byte {read}, the body has {len} bytes"
    );
    Ok(StepReport {
        name: "full read",
        summary: format!(
            "{} in {} (reads of {})",
            fmt_bytes(read),
            progress::fmt_rate(read, elapsed),
            fmt_bytes(COPY_BUF as u64)
        ),
        requests: 0,
        verified: read,
    })
}

/// Step 2: `seeks` random seek + read pairs on a fresh stream, each read checked against the body,
/// timing seek → first byte.
async fn seek_reads(demo: &Demo, seeks: u32) -> Result<StepReport> {
    let mut stream = demo.open().await?;
    let body = demo.body.clone();
    let seed = demo.seed;
    let latencies = tokio::task::spawn_blocking(move || -> Result<Vec<Duration>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let len = body.len();
        let mut buf = vec![0u8; SEEK_READ];
        let mut latencies = Vec::with_capacity(seeks as usize);
        for _ in 0..seeks {
            let offset = rng.usize(0..=len.saturating_sub(SEEK_READ));
            let want = SEEK_READ.min(len - offset);
            let began = Instant::now();
            stream
                .seek(SeekFrom::Start(offset as u64))
                .with_context(|| format!("seeking to byte {offset}"))?;
            let mut got = 0;
            while got < want {
                let n = stream
                    .read(&mut buf[got..want])
                    .with_context(|| format!("reading at byte {}", offset + got))?;
                if n == 0 {
                    bail!(
                        "the stream ended at byte {}, the body has {len} bytes",
                        offset + got
                    );
                }
                if got == 0 {
                    latencies.push(began.elapsed());
                }
                got += n;
            }
            verify(&body, offset as u64, &buf[..want])?;
        }
        Ok(latencies)
    })
    .await
    .context("the reader thread failed")??;
    let summary = match percentiles(latencies.clone()) {
        Some((min, median, max)) => format!(
            "{} × {}: seek → first byte min {}, median {}, max {}",
            latencies.len(),
            fmt_bytes(SEEK_READ as u64),
            fmt_ms(min),
            fmt_ms(median),
            fmt_ms(max)
        ),
        None => String::from("no seeks requested"),
    };
    let verified = (latencies.len() * SEEK_READ.min(demo.body.len())) as u64;
    Ok(StepReport {
        name: "seek+read",
        summary,
        requests: 0,
        verified,
    })
}

/// Prints the decoding table (step `n`).
fn print_decodes(
    out: &mut impl Write,
    n: usize,
    seeks: u32,
    decodes: &[(DecodeRun, usize)],
) -> Result<()> {
    writeln!(
        out,
        "  {n}. decoding     Stream<File> / Stream<Hls> over loopback → Decoder, {seeks} verified time seeks each"
    )?;
    writeln!(
        out,
        "     {:<6} {:>11} {:>16} {:>22} {:>8} {:>9}",
        "format", "first PCM", "decode speed", "seek → PCM (median)", "frames", "requests"
    )?;
    for (d, requests) in decodes {
        let seek = percentiles(d.seek_latencies.clone())
            .map_or_else(|| String::from("-"), |(_, median, _)| fmt_ms(median));
        writeln!(
            out,
            "     {:<6} {:>11} {:>16} {:>22} {:>8} {:>9}",
            d.format,
            fmt_ms(d.first_pcm),
            format!("{:.0}× realtime", d.speed),
            seek,
            d.frames(),
            requests
        )?;
    }
    Ok(())
}

/// Fails unless `chunk` equals the body at `offset`, naming the first differing byte.
fn verify(body: &[u8], offset: u64, chunk: &[u8]) -> Result<()> {
    let start = usize::try_from(offset).context("offset beyond addressable memory")?;
    let Some(expected) = body.get(start..start.saturating_add(chunk.len())) else {
        bail!(
            "the stream returned bytes {start}..{} but the body has only {} bytes",
            start + chunk.len(),
            body.len()
        );
    };
    if let Some(i) = expected.iter().zip(chunk).position(|(a, b)| a != b) {
        bail!(
            "byte mismatch at offset {}: got {:#04x}, expected {:#04x}",
            start + i,
            chunk[i],
            expected[i]
        );
    }
    Ok(())
}

/// Min, median and max of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> Option<(Duration, Duration, Duration)> {
    samples.sort_unstable();
    let min = *samples.first()?;
    let max = *samples.last()?;
    let median = samples[samples.len() / 2];
    Some((min, median, max))
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_names_the_first_mismatch() {
        let body = [1u8, 2, 3, 4];
        assert!(verify(&body, 1, &[2, 3]).is_ok());
        let err = verify(&body, 1, &[2, 9]).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err(String::from(
                "byte mismatch at offset 2: got 0x09, expected 0x03"
            ))
        );
        assert!(verify(&body, 3, &[4, 5]).is_err());
    }

    #[test]
    fn percentiles_of_samples() {
        let ms = Duration::from_millis;
        assert_eq!(
            percentiles(vec![ms(3), ms(1), ms(2)]),
            Some((ms(1), ms(2), ms(3)))
        );
        assert_eq!(percentiles(Vec::new()), None);
    }
}
