//! Case 1, throughput: read-to-end of one large body through `Stream<File>` (memory, temp-file
//! and ring storage) vs a raw `reqwest` body loop vs stream-download (temp-file and memory storage) on the
//! same loopback route; and `kithara fetch` vs `curl` writing the same file.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use kithara_file::StorageKind;
use kithara_loopback::{payload, Route};
use tokio::runtime::Runtime;

use super::{
    fixture::{check_len, mib_s, Fixture, SdStorage},
    report::{Better, CaseResult, Stat},
    tools::{curl_cmd, curl_version, fetch_cmd, without_proxy},
    Plan,
};

/// The ring of the ring row: 8 MiB, 1 MiB kept behind the reader.
const RING: StorageKind = StorageKind::Ring {
    capacity: 8 << 20,
    keep_behind: 1 << 20,
};

/// Times `f` (which returns the bytes it read) and checks the count; returns MiB/s.
fn timed(what: &str, len: u64, f: impl FnOnce() -> Result<u64>) -> Result<f64> {
    let started = Instant::now();
    let n = f()?;
    let took = started.elapsed();
    check_len(what, n, len)?;
    Ok(mib_s(len, took))
}

fn stat(what: &str, v: &[f64]) -> Result<Stat> {
    Stat::of(v).with_context(|| format!("no measurement of {what}"))
}

/// Runs the case; rows `throughput.*`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let fx = Fixture::new(rt, 8)?;
    // `KITHARA_BENCH_URL` measures against another server (e.g. nginx serving a file on
    // 127.0.0.1) instead of the in-process one; its length comes from a first raw read.
    let (url, len) = match std::env::var("KITHARA_BENCH_URL") {
        Ok(u) => {
            let url: url::Url = u.parse().context("KITHARA_BENCH_URL is not a URL")?;
            let len = fx.raw_read(&url)?;
            (url, len)
        }
        Err(_) => {
            let len: u64 = if plan.quick { 16 << 20 } else { 256 << 20 };
            let size = usize::try_from(len).context("body size")?;
            fx.server
                .route("/body.bin", Route::new(payload(size, 0x6b69_7468)));
            (fx.server.url("/body.bin"), len)
        }
    };
    let mib = len >> 20;
    let dir = tempfile::tempdir().context("could not create a temporary directory")?;
    let curl = curl_version();

    let (mut raw, mut k_mem, mut k_disk, mut sd_tmp, mut sd_mem) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut k_ring = vec![];
    let (mut fetch, mut curl_runs) = (vec![], vec![]);
    for round in 0..plan.rounds {
        raw.push(timed("raw reqwest", len, || fx.raw_read(&url))?);
        k_mem.push(timed("kithara (memory)", len, || {
            fx.kithara_read(&url, StorageKind::Memory)
        })?);
        k_disk.push(timed("kithara (temp file)", len, || {
            fx.kithara_read(&url, StorageKind::TempFile)
        })?);
        k_ring.push(timed("kithara (ring)", len, || {
            fx.kithara_read(&url, RING)
        })?);
        sd_tmp.push(timed("stream-download (temp file)", len, || {
            fx.sd_read(&url, SdStorage::TempFile)
        })?);
        sd_mem.push(timed("stream-download (memory)", len, || {
            fx.sd_read(&url, SdStorage::Memory)
        })?);
        let out = dir.path().join(format!("fetch-{round}.bin"));
        fetch.push(mib_s(
            len,
            run_tool(fetch_cmd(url.as_str(), &out)?, &out, len)?,
        ));
        if curl.is_some() {
            let out = dir.path().join(format!("curl-{round}.bin"));
            curl_runs.push(mib_s(
                len,
                run_tool(curl_cmd(url.as_str(), &out), &out, len)?,
            ));
        }
    }

    let how = format!("{mib} MiB body, 64 KiB reads, MiB/s");
    let k_mem = stat("kithara (memory)", &k_mem)?;
    let k_disk = stat("kithara (temp file)", &k_disk)?;
    let raw = stat("raw reqwest", &raw)?;
    let mut rows = vec![
        CaseResult::ratio(
            "throughput.memory_vs_raw",
            "MiB/s",
            Better::Higher,
            k_mem,
            "raw reqwest",
            raw,
            0.9,
        )
        .note(format!(
            "{how}; Stream<File> memory storage vs a reqwest chunk() loop on the same route"
        )),
        CaseResult::ratio(
            "throughput.ring_vs_raw",
            "MiB/s",
            Better::Higher,
            stat("kithara (ring)", &k_ring)?,
            "raw reqwest",
            raw,
            0.9,
        )
        .note(format!(
            "{how}; Stream<File> through an 8 MiB ring (1 MiB kept behind) vs the same reqwest loop"
        )),
        CaseResult::ratio(
            "throughput.tempfile_vs_raw",
            "MiB/s",
            Better::Higher,
            k_disk,
            "raw reqwest",
            raw,
            0.9,
        ),
        CaseResult::ratio(
            "throughput.memory_vs_stream_download",
            "MiB/s",
            Better::Higher,
            k_mem,
            "stream-download memory",
            stat("stream-download (memory)", &sd_mem)?,
            1.0,
        ),
        CaseResult::ratio(
            "throughput.tempfile_vs_stream_download",
            "MiB/s",
            Better::Higher,
            k_disk,
            "stream-download temp file",
            stat("stream-download (temp file)", &sd_tmp)?,
            1.0,
        ),
    ];
    let fetch = stat("kithara fetch", &fetch)?;
    match curl {
        Some(version) => rows.push(
            CaseResult::ratio(
                "throughput.fetch_vs_curl",
                "MiB/s",
                Better::Higher,
                fetch,
                "curl",
                stat("curl", &curl_runs)?,
                0.9,
            )
            .note(format!(
                "`kithara fetch URL -o FILE` vs `curl -s -o FILE URL` ({version}), same file size"
            )),
        ),
        None => rows.push(CaseResult {
            id: String::from("throughput.fetch_vs_curl"),
            unit: "MiB/s",
            better: Better::Higher,
            kithara: fetch,
            peer_name: Some(String::from("curl: not installed")),
            peer: None,
            ratio: None,
            goal: String::from("≥ 0.90×"),
            met: None,
            note: Some(String::from(
                "curl is not installed: the comparison is skipped, kithara fetch alone is shown",
            )),
        }),
    }
    Ok(rows)
}

/// Runs a download tool without proxies, checks its exit status and the file's size; removes
/// the file and returns the wall time.
fn run_tool(mut cmd: Command, out: &Path, len: u64) -> Result<Duration> {
    without_proxy(&mut cmd);
    let started = Instant::now();
    let res = cmd
        .output()
        .with_context(|| format!("could not run {cmd:?}"))?;
    let took = started.elapsed();
    if !res.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&res.stderr).trim()
        );
    }
    let got = std::fs::metadata(out)
        .with_context(|| format!("{} was not written", out.display()))?
        .len();
    check_len(&format!("{cmd:?}"), got, len)?;
    std::fs::remove_file(out).with_context(|| format!("could not remove {}", out.display()))?;
    Ok(took)
}
