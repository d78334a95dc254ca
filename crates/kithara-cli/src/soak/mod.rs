//! `kithara soak`: many streams at once through one downloader against the embedded loopback
//! server, with random seeks, cancellations and injected faults, every byte and sample verified,
//! for a set time; then a report of what happened and of what is left over.
//!
//! Each of the `--streams` slots runs one stream after another until the time is up
//! ([`run::Slot::run`]): its [`plan::Kind`] says what (a generated file in memory or through the
//! cache, a VOD HLS variant — TS, fMP4, AES-128 —, a live window, a decode of bundled media), and
//! each run draws a fault ([`plan::Injected`]) with the slot's seeded generator. A run that ends
//! with an error class its fault does not explain, reads a wrong byte or sample, or outlives its
//! budget fails the soak; so does anything left at the end (the downloader's peers and commands,
//! runtime tasks, open descriptors above their starting count).

mod decode;
mod hls;
mod plan;
mod report;
mod run;
mod verify;

use std::{
    io::Write,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use kithara_loopback::LoopbackServer;
use kithara_storage::{AssetStore, AssetStoreConfig};
use kithara_stream::dl::{Downloader, DownloaderConfig};

use crate::args::SoakArgs;
use report::{Report, Resources};
use run::{Ctx, Slot};

/// Longest a single run may take before it counts as hung (faults, retries and the read wait
/// included).
const RUN_BUDGET: Duration = Duration::from_secs(180);
/// The downloader's inactivity timeout: short, so that some stalls outlast it and are retried.
const INACTIVITY: Duration = Duration::from_secs(3);
/// Longest wait at the end for tasks, commands and descriptors to go.
const SETTLE: Duration = Duration::from_secs(10);

pub(crate) async fn run(args: SoakArgs) -> Result<()> {
    let runtime = tokio::runtime::Handle::current();
    let mut report = Report {
        seed: args.seed,
        streams: usize::from(args.streams),
        duration_secs: args.duration,
        start: Resources {
            fds: report::open_fds(),
            tasks: runtime.metrics().num_alive_tasks(),
            ..Resources::default()
        },
        ..Report::default()
    };
    let dir =
        std::env::temp_dir().join(format!("kithara-soak-{}-{}", std::process::id(), args.seed));
    let result = soak(&args, &dir, &mut report).await;
    let removed = std::fs::remove_dir_all(&dir);
    result?;
    if let Err(e) = removed {
        tracing::warn!("could not remove {}: {e}", dir.display());
    }
    report.end.tasks = settle(|| runtime.metrics().num_alive_tasks(), report.start.tasks).await;
    report.end.fds = match report.start.fds {
        Some(start) => Some(settle(|| report::open_fds().unwrap_or(0), start).await),
        None => None,
    };
    report.peak_rss_bytes = report::peak_rss();
    report.ok = report.passed();
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        report.print(&mut std::io::stdout().lock())?;
    }
    if !report.ok {
        bail!(
            "the soak failed: {}",
            report.failures.first().map_or("a leak", String::as_str)
        );
    }
    Ok(())
}

/// Runs the streams, then drops everything and fills in the downloader's figures.
async fn soak(args: &SoakArgs, dir: &Path, report: &mut Report) -> Result<()> {
    let server =
        Arc::new(LoopbackServer::start().context("could not start the loopback HTTP server")?);
    let store = AssetStore::new(AssetStoreConfig::builder().dir(dir.to_path_buf()).build())
        .with_context(|| format!("opening a cache in {}", dir.display()))?;
    let downloader = Downloader::new(
        // Loopback only: never through a proxy from the environment.
        DownloaderConfig::builder()
            .system_proxy(false)
            .max_in_flight(16)
            .inactivity_timeout(INACTIVITY)
            .build(),
    )?;
    let references = decode::references(&server, &downloader).await?;
    let ctx = Ctx {
        server: server.clone(),
        downloader: downloader.clone(),
        store: store.clone(),
        wait: Duration::from_secs(60),
        references: Arc::new(references),
    };
    let tally = Arc::new(Mutex::new(std::mem::take(report)));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration);
    // The request log is not used: keep it from growing for the whole soak.
    let log_keeper = {
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                server.clear_log();
            }
        })
    };
    let slots: Vec<_> = (0..usize::from(args.streams))
        .map(|id| {
            tokio::spawn(slot_loop(
                Slot::new(id, args.seed),
                ctx.clone(),
                deadline,
                tally.clone(),
            ))
        })
        .collect();
    for s in slots {
        if let Err(e) = s.await {
            lock(&tally).fail(format!("a stream task failed: {e}"));
        }
    }
    log_keeper.abort();
    let _ = log_keeper.await;
    let elapsed = started.elapsed().as_secs_f64();
    drop(ctx);
    *report = std::mem::take(&mut *lock(&tally));
    report.elapsed_secs = elapsed;
    report.throughput_bytes_per_sec = report.bytes_verified as f64 / elapsed.max(1e-6);
    let stats = server.stats();
    report.server_bytes_sent = stats.bytes_sent;
    report.server_connections = stats.connections_accepted;
    let peers = settle(|| downloader.peers_alive(), 0).await;
    let commands = settle(|| downloader.commands_in_flight(), 0).await;
    report.end.peers_alive = peers;
    report.end.commands_in_flight = commands;
    if !store.wait_closed(Duration::from_secs(5)) {
        report.fail(String::from(
            "the cache was still being written 5 s after the last stream",
        ));
    }
    drop((store, downloader));
    drop(server);
    Ok(())
}

/// One slot: runs until the deadline, each within [`RUN_BUDGET`].
async fn slot_loop(mut slot: Slot, ctx: Ctx, deadline: Instant, tally: Arc<Mutex<Report>>) {
    let kind = slot.kind.name();
    while Instant::now() < deadline {
        match tokio::time::timeout(RUN_BUDGET, slot.run(&ctx)).await {
            Ok(out) => lock(&tally).add(kind, out),
            Err(_) => {
                let mut t = lock(&tally);
                t.hung += 1;
                t.fail(format!(
                    "{kind} (stream {}): a run took more than {RUN_BUDGET:?}",
                    slot.id
                ));
            }
        }
    }
}

fn lock(tally: &Mutex<Report>) -> std::sync::MutexGuard<'_, Report> {
    tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits (at most [`SETTLE`]) until `value()` is at most `target`; returns its last value.
async fn settle(value: impl Fn() -> usize, target: usize) -> usize {
    let until = Instant::now() + SETTLE;
    loop {
        let v = value();
        if v <= target || Instant::now() >= until {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
