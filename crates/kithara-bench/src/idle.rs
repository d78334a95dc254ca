//! Case 5, idle cost: the CPU the whole process (runtime workers, downloader, server, the
//! blocked reader) uses while a reader waits on a route that stalls after its first 64 KiB.

use std::{
    io::Read,
    path::Path,
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use kithara_file::StorageKind;
use kithara_loopback::{payload, Fault, Route};
use tokio::runtime::Runtime;

use super::{
    fixture::Fixture,
    report::{Better, CaseResult, Stat},
    Plan,
};

/// Bytes served before the stall.
const BEFORE_STALL: u64 = 64 << 10;

/// Goal: percent of one core.
const GOAL_PERCENT: f64 = 1.0;

/// On-CPU time of every thread of this process so far, from `/proc/self/task/*/schedstat`
/// (nanoseconds), or from `/proc/self/stat` (clock ticks, assumed 100 Hz) when schedstat is not
/// there.
fn process_cpu() -> Result<Duration> {
    let mut total = 0u64;
    let mut any = false;
    let tasks = std::fs::read_dir("/proc/self/task").context("/proc/self/task is not readable")?;
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            total += ns;
            any = true;
        }
    }
    if any {
        return Ok(Duration::from_nanos(total));
    }
    stat_cpu(Path::new("/proc/self/stat"))
}

/// utime + stime of `/proc/self/stat`.
fn stat_cpu(path: &Path) -> Result<Duration> {
    let stat = std::fs::read_to_string(path).context("/proc/self/stat is not readable")?;
    // After the `(comm)` field: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => Ok(Duration::from_millis((u + s) * 10)),
        _ => bail!("/proc/self/stat has no utime/stime"),
    }
}

/// One round: returns the percent of one core used during `window`.
fn round(fx: &Fixture<'_>, url: &url::Url, window: Duration) -> Result<f64> {
    let stream = fx.open(url, StorageKind::TempFile)?;
    let cancel = stream.cancel_token().clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stream = stream;
        let mut buf = vec![0u8; BEFORE_STALL as usize];
        let mut got = 0u64;
        while got < BEFORE_STALL {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n as u64,
                Err(e) => return Err(anyhow!("read before the stall: {e}")),
            }
        }
        let _ = ready_tx.send(got);
        // Blocks on the stall until cancelled (or the stream's wait timeout).
        let _ = stream.read(&mut buf);
        Ok(())
    });
    let got = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .context("the reader did not get the bytes before the stall")?;
    if got != BEFORE_STALL {
        bail!("the reader got {got} bytes before the stall, not {BEFORE_STALL}");
    }
    let (cpu0, t0) = (process_cpu()?, Instant::now());
    std::thread::sleep(window);
    let (cpu1, took) = (process_cpu()?, t0.elapsed());
    cancel.cancel();
    reader
        .join()
        .map_err(|_| anyhow!("the reader thread panicked"))??;
    Ok(cpu1.saturating_sub(cpu0).as_secs_f64() / took.as_secs_f64() * 100.0)
}

/// Runs the case; row `idle.cpu`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let window = Duration::from_secs(if plan.quick { 1 } else { 5 });
    let fx = Fixture::new(rt, 8)?;
    fx.server.route(
        "/stall.bin",
        Route::new(payload(4 << 20, 0x1d1e)).fault(Fault::Stall {
            after: BEFORE_STALL,
            stall: Duration::MAX,
            times: u32::MAX,
        }),
    );
    let url = fx.server.url("/stall.bin");
    let mut percent = Vec::new();
    for _ in 0..plan.rounds {
        percent.push(round(&fx, &url, window)?);
    }
    let stat = Stat::of(&percent).context("no measurement")?;
    Ok(vec![CaseResult::alone(
        "idle.cpu",
        "% core",
        Better::Lower,
        stat,
        Some(GOAL_PERCENT),
    )
    .note(format!(
        "a Stream<File> reader blocked {} s on a route stalled after {} KiB; on-CPU time of \
         every thread of the process (runtime, downloader, server, reader) from \
         /proc/self/task/*/schedstat",
        window.as_secs(),
        BEFORE_STALL >> 10
    ))])
}
