//! Case 6, memory: the peak resident set of `kithara fetch` (a `Stream<File>` straight into the
//! output file: disk storage) while it downloads a 1 GiB body, against `curl` writing the same
//! file. Each tool runs as a child process whose `VmHWM` (`/proc/PID/status`) is sampled until it
//! exits, so the figure is the tool's alone, not the bench's (which holds the served body).

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use kithara_loopback::{payload, Route};
use tokio::runtime::Runtime;

use super::{
    fixture::{check_len, Fixture},
    report::{Better, CaseResult, Stat},
    tools::{curl_cmd, curl_version, fetch_cmd, without_proxy},
    Plan,
};

/// Goal: MiB of peak RSS.
const GOAL_MIB: f64 = 16.0;

/// How often the child's high-water mark is read.
const SAMPLE: Duration = Duration::from_millis(2);

/// `VmHWM` of `pid` in KiB, if the process is still there.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Runs `cmd` (which writes `out`), sampling its peak RSS; checks the file; returns MiB.
fn peak_rss(mut cmd: Command, out: &Path, len: u64) -> Result<f64> {
    without_proxy(&mut cmd);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("could not run {cmd:?}"))?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak = 0u64;
    let status = loop {
        // The high-water mark only grows: the last sample before the exit is the peak.
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().context("waiting for the child")? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{cmd:?} did not finish in 10 minutes");
        }
        std::thread::sleep(SAMPLE);
    };
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    if peak == 0 {
        bail!("the peak RSS of {cmd:?} could not be read from /proc");
    }
    let got = std::fs::metadata(out)
        .with_context(|| format!("{} was not written", out.display()))?
        .len();
    check_len(&format!("{cmd:?}"), got, len)?;
    std::fs::remove_file(out).with_context(|| format!("could not remove {}", out.display()))?;
    Ok(peak as f64 / 1024.0)
}

/// Runs the case; row `memory.fetch_peak_rss`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let mib: u64 = if plan.quick { 32 } else { 1024 };
    let len = mib << 20;
    let fx = Fixture::new(rt, 8)?;
    fx.server.route(
        "/big.bin",
        Route::new(payload(usize::try_from(len).context("body size")?, 0x6d65)),
    );
    let url = fx.server.url("/big.bin");
    let dir = tempfile::tempdir().context("could not create a temporary directory")?;
    let curl = curl_version();
    let (mut kithara, mut peer) = (vec![], vec![]);
    for round in 0..plan.rounds {
        let out = dir.path().join(format!("fetch-{round}.bin"));
        kithara.push(peak_rss(fetch_cmd(url.as_str(), &out)?, &out, len)?);
        if curl.is_some() {
            let out = dir.path().join(format!("curl-{round}.bin"));
            peer.push(peak_rss(curl_cmd(url.as_str(), &out), &out, len)?);
        }
    }
    let mut row = CaseResult::alone(
        "memory.fetch_peak_rss",
        "MiB",
        Better::Lower,
        Stat::of(&kithara).context("no measurement")?,
        Some(GOAL_MIB),
    );
    let how = format!(
        "peak RSS (VmHWM) of the `kithara fetch` process downloading {mib} MiB into its output \
         file (disk storage)"
    );
    let row = match curl {
        Some(version) => {
            let peer = Stat::of(&peer).context("no measurement")?;
            row = row.with_peer("curl", peer);
            row.note(format!(
                "{how}; peer: `curl -s -o` ({version}), the same way"
            ))
        }
        None => row.note(format!("{how}; curl is not installed: no peer")),
    };
    Ok(vec![row])
}
