//! The soak's tally and its report (text or JSON), and the process figures it includes (peak
//! RSS, open descriptors, live tasks).

use std::{collections::BTreeMap, io::Write};

use anyhow::Result;
use serde::Serialize;

use super::run::{End, Outcome};

/// At most this many failure messages are kept.
const MAX_FAILURES: usize = 20;

/// Errors of one class under one fault.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorRow {
    /// The `ErrorClass`, as `Debug` prints it.
    pub(crate) class: String,
    /// The fault injected in the run.
    pub(crate) fault: &'static str,
    /// Whether the fault may end a run with this class.
    pub(crate) expected: bool,
    /// How many runs ended so.
    pub(crate) count: u64,
}

/// Process and downloader figures, at the start and at the end.
#[derive(Debug, Default, Serialize, Clone, Copy)]
pub(crate) struct Resources {
    /// Open file descriptors (`/proc/self/fd`), `None` where unknown.
    pub(crate) fds: Option<usize>,
    /// Tasks alive on the runtime.
    pub(crate) tasks: usize,
    /// The downloader's peers whose driver runs.
    pub(crate) peers_alive: usize,
    /// The downloader's commands started and not ended.
    pub(crate) commands_in_flight: usize,
}

/// The whole report.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    /// The seed.
    pub(crate) seed: u64,
    /// Concurrent streams.
    pub(crate) streams: usize,
    /// The requested duration, seconds.
    pub(crate) duration_secs: f64,
    /// The wall time of the runs, seconds.
    pub(crate) elapsed_secs: f64,
    /// Runs (streams opened) by kind.
    pub(crate) runs: BTreeMap<&'static str, u64>,
    /// Runs by fault injected.
    pub(crate) faults: BTreeMap<&'static str, u64>,
    /// Runs that read what they meant to.
    pub(crate) completed: u64,
    /// Runs dropped midway on purpose.
    pub(crate) cancelled: u64,
    /// Runs that ended with an error, by class and fault.
    pub(crate) errors: Vec<ErrorRow>,
    /// Runs whose bytes or PCM differ from the source.
    pub(crate) wrong: u64,
    /// Runs that did not end within their budget.
    pub(crate) hung: u64,
    /// Bytes read and compared with the source.
    pub(crate) bytes_verified: u64,
    /// PCM frames compared with a clean decode.
    pub(crate) pcm_frames_verified: u64,
    /// Seeks done.
    pub(crate) seeks: u64,
    /// Verified bytes per second of wall time.
    pub(crate) throughput_bytes_per_sec: f64,
    /// Body bytes the server sent.
    pub(crate) server_bytes_sent: u64,
    /// Connections the server accepted.
    pub(crate) server_connections: u64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub(crate) peak_rss_bytes: Option<u64>,
    /// Figures before the first stream.
    pub(crate) start: Resources,
    /// Figures after the last stream, once everything was dropped.
    pub(crate) end: Resources,
    /// The first failure messages.
    pub(crate) failures: Vec<String>,
    /// Whether the soak passed: no wrong byte, no unexpected error, no hang, nothing leaked.
    pub(crate) ok: bool,
}

impl Report {
    /// Adds one run of `kind`.
    pub(crate) fn add(&mut self, kind: &'static str, out: Outcome) {
        *self.runs.entry(kind).or_default() += 1;
        *self.faults.entry(out.fault.name()).or_default() += 1;
        self.bytes_verified += out.bytes;
        self.pcm_frames_verified += out.frames;
        self.seeks += out.seeks;
        match out.end {
            End::Done => self.completed += 1,
            End::Cancelled => self.cancelled += 1,
            End::Failed(class, message) => {
                let expected = out.fault.expected().contains(&class);
                let class_name = format!("{class:?}");
                match self
                    .errors
                    .iter_mut()
                    .find(|r| r.class == class_name && r.fault == out.fault.name())
                {
                    Some(row) => row.count += 1,
                    None => self.errors.push(ErrorRow {
                        class: class_name,
                        fault: out.fault.name(),
                        expected,
                        count: 1,
                    }),
                }
                if !expected {
                    self.fail(format!(
                        "{kind}, fault {}: {class:?}: {message}",
                        out.fault.name()
                    ));
                }
            }
            End::Wrong(message) => {
                self.wrong += 1;
                self.fail(format!("{kind}, fault {}: {message}", out.fault.name()));
            }
        }
    }

    /// Records a failure message (the first ones are kept).
    pub(crate) fn fail(&mut self, message: String) {
        tracing::warn!("soak failure: {message}");
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(message);
        }
    }

    /// Whether nothing failed: no wrong byte, no unexpected error, no hang, no leak.
    pub(crate) fn passed(&self) -> bool {
        self.wrong == 0
            && self.hung == 0
            && self.errors.iter().all(|r| r.expected)
            && self.failures.is_empty()
            && self.end.peers_alive == 0
            && self.end.commands_in_flight == 0
            && self.end.tasks <= self.start.tasks
            && match (self.start.fds, self.end.fds) {
                (Some(s), Some(e)) => e <= s,
                _ => true,
            }
    }

    /// Prints the report as text.
    pub(crate) fn print(&self, out: &mut impl Write) -> Result<()> {
        let runs: u64 = self.runs.values().sum();
        writeln!(
            out,
            "kithara soak: {} streams for {:.0} s (seed {}): {runs} runs, {} completed, {} cancelled, {} errors, {} wrong, {} hung",
            self.streams,
            self.elapsed_secs,
            self.seed,
            self.completed,
            self.cancelled,
            self.errors.iter().map(|r| r.count).sum::<u64>(),
            self.wrong,
            self.hung
        )?;
        for (kind, n) in &self.runs {
            writeln!(out, "  runs  {kind:<16} {n}")?;
        }
        for (fault, n) in &self.faults {
            writeln!(out, "  fault {fault:<16} {n}")?;
        }
        for r in &self.errors {
            let verdict = if r.expected { "expected" } else { "UNEXPECTED" };
            writeln!(
                out,
                "  error {:<16} under {:<16} {:>6}  {verdict}",
                r.class, r.fault, r.count
            )?;
        }
        writeln!(
            out,
            "  verified        {} bytes, {} PCM frames, {} seeks; {:.1} MiB/s",
            self.bytes_verified,
            self.pcm_frames_verified,
            self.seeks,
            self.throughput_bytes_per_sec / f64::from(1u32 << 20)
        )?;
        writeln!(
            out,
            "  server          {} connections, {} body bytes sent",
            self.server_connections, self.server_bytes_sent
        )?;
        let opt = |v: Option<usize>| v.map_or_else(|| String::from("?"), |v| v.to_string());
        writeln!(
            out,
            "  resources       peak RSS {} MiB; fds {} → {}; tasks {} → {}; downloader peers {} → {}, commands {} → {}",
            self.peak_rss_bytes.map_or(0, |b| b >> 20),
            opt(self.start.fds),
            opt(self.end.fds),
            self.start.tasks,
            self.end.tasks,
            self.start.peers_alive,
            self.end.peers_alive,
            self.start.commands_in_flight,
            self.end.commands_in_flight
        )?;
        for f in &self.failures {
            writeln!(out, "  FAILURE {f}")?;
        }
        writeln!(
            out,
            "  result          {}",
            if self.ok { "OK" } else { "FAILED" }
        )?;
        Ok(())
    }
}

/// Open file descriptors of this process (Linux; `None` elsewhere).
pub(crate) fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count)
}

/// Peak resident set size of this process (Linux `VmHWM`; `None` elsewhere).
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
