//! Case 7, scale: 1, 8 and 64 concurrent `Stream<File>`s (temp-file storage, one reader thread
//! each) through one downloader with its default pool, against as many raw `reqwest` loops on one
//! client, in the same run.

use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use kithara_file::StorageKind;
use kithara_loopback::{payload, Route};
use tokio::runtime::Runtime;
use url::Url;

use super::{
    fixture::{check_len, mib_s, raw_get, read_all, Fixture},
    report::{Better, CaseResult, Stat},
    Plan,
};

const COUNTS: [usize; 3] = [1, 8, 64];

/// The downloader's default pool size (`DownloaderConfig::max_in_flight`).
const POOL: usize = 8;

/// `n` streams read to the end concurrently; aggregate MiB/s.
fn kithara_many(fx: &Fixture<'_>, url: &Url, n: usize, len: u64) -> Result<f64> {
    let started = Instant::now();
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        streams.push(fx.open(url, StorageKind::TempFile)?);
    }
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut s| std::thread::spawn(move || read_all(&mut s)))
        .collect();
    for r in readers {
        let got = r
            .join()
            .map_err(|_| anyhow!("a reader thread panicked"))?
            .context("kithara stream read")?;
        check_len("kithara stream", got, len)?;
    }
    Ok(mib_s(len * n as u64, started.elapsed()))
}

/// `n` raw GETs on one client, concurrently; aggregate MiB/s.
fn raw_many(fx: &Fixture<'_>, url: &Url, n: usize, len: u64) -> Result<f64> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| fx.rt.spawn(raw_get(fx.client.clone(), url.clone())))
        .collect();
    for t in tasks {
        let got = fx.rt.block_on(t).context("a reqwest task failed")??;
        check_len("raw reqwest", got, len)?;
    }
    Ok(mib_s(len * n as u64, started.elapsed()))
}

/// Runs the case; rows `scale.*`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let mib: u64 = if plan.quick { 2 } else { 16 };
    let len = mib << 20;
    let fx = Fixture::new(rt, POOL)?;
    let size = usize::try_from(len).context("body size")?;
    fx.server.route("/s.bin", Route::new(payload(size, 5)));
    let url = fx.server.url("/s.bin");

    // The same 64 streams with a pool as large as the stream count: is the pool the limit?
    let wide = Fixture::new(rt, COUNTS[2])?;
    let mut wide_runs = Vec::new();
    let mut kithara = vec![Vec::new(); COUNTS.len()];
    let mut raw = vec![Vec::new(); COUNTS.len()];
    for _ in 0..plan.rounds {
        for (i, &n) in COUNTS.iter().enumerate() {
            raw[i].push(raw_many(&fx, &url, n, len)?);
            kithara[i].push(kithara_many(&fx, &url, n, len)?);
        }
        wide_runs.push(kithara_many(&wide, &url, COUNTS[2], len)?);
    }
    let stats = |v: &[Vec<f64>]| -> Result<Vec<Stat>> {
        v.iter()
            .map(|x| Stat::of(x).context("no measurement"))
            .collect()
    };
    let (kithara, raw) = (stats(&kithara)?, stats(&raw)?);
    let mut rows = Vec::new();
    for (i, &n) in COUNTS.iter().enumerate() {
        let row = CaseResult::ratio(
            &format!("scale.{n}_streams_vs_raw"),
            "MiB/s",
            Better::Higher,
            kithara[i],
            &format!("{n} raw reqwest loops"),
            raw[i],
            0.9,
        );
        rows.push(if i == 0 {
            row.note(format!(
                "{mib} MiB per stream, temp-file storage, one reader thread each, one downloader \
                 (pool of {POOL} in flight); aggregate MiB/s vs as many reqwest loops on one client"
            ))
        } else {
            row
        });
    }
    for (i, &n) in COUNTS.iter().enumerate().skip(1) {
        rows.push(CaseResult::ratio(
            &format!("scale.{n}_streams_vs_1"),
            "MiB/s",
            Better::Higher,
            kithara[i],
            "1 stream",
            kithara[0],
            0.8,
        ));
    }
    let wide = Stat::of(&wide_runs).context("no measurement")?;
    rows.push(
        CaseResult::ratio(
            &format!("scale.{}_streams_pool_{}_vs_raw", COUNTS[2], COUNTS[2]),
            "MiB/s",
            Better::Higher,
            wide,
            &format!("{} raw reqwest loops", COUNTS[2]),
            raw[2],
            0.9,
        )
        .note(format!(
            "the {} streams on a downloader whose pool admits {} fetches in flight: if this row \
             is not better than scale.{}_streams_vs_raw, the default pool of {POOL} is not the \
             limit",
            COUNTS[2], COUNTS[2], COUNTS[2]
        )),
    );
    Ok(rows)
}
