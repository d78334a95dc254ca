//! Case 4, wake latency: the time from a writer landing a chunk in a storage resource to the
//! reader blocked on that range returning, as an HDR histogram (p50, p99, max), for memory and
//! temp-file storage. This is the hand-off at the heart of the bridge: the downloader's writer on
//! the runtime, the decoder's reader on its own thread.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use kithara_storage::{StorageResource, WaitOutcome};

use super::{
    plot,
    report::{Better, CaseResult, Stat},
    Plan,
};

/// Bytes landed per chunk.
const CHUNK: usize = 16 << 10;

/// Pause between chunks, so the reader is parked when the next one lands.
const GAP: Duration = Duration::from_micros(500);

/// Goal of the p99, in µs.
const P99_GOAL_US: f64 = 200.0;

/// One round: `chunks` chunks landed one by one; returns each chunk's wake latency in ns.
fn round(res: &StorageResource, chunks: usize) -> Result<Vec<u64>> {
    let epoch = Instant::now();
    // The reader publishes the chunk it is about to wait for, so the writer lands a chunk only
    // after the reader has asked for it (and, after the gap, is parked on it).
    let waiting = Arc::new(AtomicU64::new(u64::MAX));
    let reader = {
        let res = res.clone();
        let waiting = waiting.clone();
        std::thread::spawn(move || -> Result<Vec<Duration>> {
            let mut woke = Vec::with_capacity(chunks);
            let c = CHUNK as u64;
            for i in 0..chunks as u64 {
                waiting.store(i, Ordering::Release);
                match res.wait_range(i * c..(i + 1) * c, Duration::from_secs(10))? {
                    WaitOutcome::Ready => woke.push(epoch.elapsed()),
                    other => bail!("the reader's wait ended with {other:?}"),
                }
            }
            Ok(woke)
        })
    };
    let data = vec![0x5au8; CHUNK];
    let mut landed = Vec::with_capacity(chunks);
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..chunks as u64 {
        while waiting.load(Ordering::Acquire) != i {
            if Instant::now() > deadline {
                bail!("the reader did not ask for chunk {i}");
            }
            std::thread::yield_now();
        }
        std::thread::sleep(GAP);
        landed.push(epoch.elapsed());
        res.write_at(i * CHUNK as u64, &data)
            .context("storage write")?;
    }
    let woke = reader
        .join()
        .map_err(|_| anyhow!("the reader thread panicked"))??;
    Ok(landed
        .iter()
        .zip(&woke)
        .map(|(l, w)| u64::try_from(w.saturating_sub(*l).as_nanos()).unwrap_or(u64::MAX))
        .collect())
}

/// Runs the case; rows `wake.*`. With `out`, draws `wake_latency.svg` there.
pub(crate) fn run(plan: Plan, out: Option<&Path>) -> Result<Vec<CaseResult>> {
    let chunks = if plan.quick { 300 } else { 2000 };
    let mut rows = Vec::new();
    let mut all: Vec<(&str, Histogram<u64>)> = Vec::new();
    for kind in ["memory", "tempfile"] {
        let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
            .map_err(|e| anyhow!("histogram: {e}"))?;
        let (mut p50, mut p99, mut max) = (vec![], vec![], vec![]);
        for _ in 0..plan.rounds {
            let res = match kind {
                "memory" => StorageResource::memory(),
                _ => StorageResource::temp_file().context("could not create a temp file")?,
            };
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
                .map_err(|e| anyhow!("histogram: {e}"))?;
            for ns in round(&res, chunks)? {
                h.saturating_record(ns.max(1));
            }
            total.add(&h).map_err(|e| anyhow!("histogram: {e}"))?;
            let us = |ns: u64| ns as f64 / 1e3;
            p50.push(us(h.value_at_quantile(0.5)));
            p99.push(us(h.value_at_quantile(0.99)));
            max.push(us(h.max()));
        }
        let stat = |v: &[f64]| Stat::of(v).context("no measurement");
        let p50 = CaseResult::alone(
            &format!("wake.{kind}.p50"),
            "µs",
            Better::Lower,
            stat(&p50)?,
            None,
        );
        rows.push(if kind == "memory" {
            p50.note(format!(
                "{chunks} chunks of {} KiB per round, {} µs apart, reader parked in wait_range \
                 on its own thread; latency from the write call to the reader's return",
                CHUNK >> 10,
                GAP.as_micros()
            ))
        } else {
            p50
        });
        rows.push(CaseResult::alone(
            &format!("wake.{kind}.p99"),
            "µs",
            Better::Lower,
            stat(&p99)?,
            Some(P99_GOAL_US),
        ));
        rows.push(CaseResult::alone(
            &format!("wake.{kind}.max"),
            "µs",
            Better::Lower,
            stat(&max)?,
            None,
        ));
        all.push((kind, total));
    }
    if let Some(dir) = out {
        plot::wake_histogram(&dir.join("wake_latency.svg"), &all)?;
    }
    Ok(rows)
}
