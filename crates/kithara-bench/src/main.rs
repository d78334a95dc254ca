//! `kithara-bench`: kithara against a raw `reqwest` loop, `stream-download` and `curl`, side by
//! side on a loopback server, in one run.
//!
//! Every case runs several rounds (the peers interleaved with kithara, so both see the same
//! machine state) and reports the median and the spread (min..max) of each side, their ratio and
//! the goal from the project's performance issue. See the crate README for the cases.
//!
//! `kithara-bench kithara ARGS…` runs the `kithara` command line instead (the very code of
//! kithara-cli, linked in): the cases that time `kithara fetch` run this executable that way, so
//! the bench needs no separately built `kithara` binary.

#![forbid(unsafe_code)]

mod abr;
mod decoding;
mod fixture;
mod hls_start;
mod idle;
mod memory;
mod plot;
mod report;
mod scale;
mod seek;
mod throughput;
mod tools;
mod wake;

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::{bail, Context, Result};
use clap::Parser;
use tokio::runtime::Runtime;

pub(crate) use report::CaseResult;

/// The cases, in the order they run; `--cases` selects by these names.
const CASES: &[&str] = &[
    "throughput",
    "decode",
    "seek",
    "wake",
    "idle",
    "memory",
    "scale",
    "hls-start",
    "abr",
];

/// The first argument that runs the `kithara` command line instead of the bench.
pub(crate) const AS_KITHARA: &str = "kithara";

/// Measures kithara against a raw reqwest loop, stream-download and curl on a loopback server.
#[derive(Debug, Parser)]
#[command(name = "kithara-bench", version, about)]
pub(crate) struct BenchArgs {
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,

    /// Write SVG plots into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,

    /// A reduced run (smaller bodies, fewer rounds) for smoke tests.
    #[arg(long)]
    pub(crate) quick: bool,

    /// Run only these cases (comma-separated names).
    #[arg(long, value_name = "NAMES", hide = true)]
    pub(crate) cases: Option<String>,
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == AS_KITHARA) {
        // `kithara-bench kithara fetch …` is `kithara fetch …`.
        return kithara_cli::main_from(std::env::args_os().skip(1));
    }
    let args = BenchArgs::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kithara-rt")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(args, &runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sizes and rounds of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Reduced sizes and rounds (`--quick`).
    pub(crate) quick: bool,
    /// Rounds of every case.
    pub(crate) rounds: usize,
}

/// Runs the selected cases and prints the table (or JSON), then the plots.
fn run(args: BenchArgs, rt: &Runtime) -> Result<()> {
    let selected: Vec<&str> = match &args.cases {
        None => CASES.to_vec(),
        Some(list) => {
            let mut v = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match CASES.iter().find(|c| **c == name) {
                    Some(c) => v.push(*c),
                    None => bail!("unknown bench case {name:?} (known: {})", CASES.join(", ")),
                }
            }
            v
        }
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let plan = Plan {
        quick: args.quick,
        rounds: if args.quick { 3 } else { 5 },
    };
    let mut results: Vec<CaseResult> = Vec::new();
    for case in selected {
        progress(&format!("bench: {case} …"));
        let rows = match case {
            "throughput" => throughput::run(plan, rt),
            "decode" => decoding::run(plan, rt),
            "scale" => scale::run(plan, rt),
            "seek" => seek::run(plan, rt),
            "idle" => idle::run(plan, rt),
            "memory" => memory::run(plan, rt),
            "wake" => wake::run(plan, args.out.as_deref()),
            "hls-start" => hls_start::run(plan, rt),
            "abr" => abr::run(plan, rt, args.out.as_deref()),
            other => bail!("bench case {other} is not implemented"),
        }
        .with_context(|| format!("bench case {case}"))?;
        results.extend(rows);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = report::Document::new(plan, &results);
        serde_json::to_writer_pretty(&mut out, &doc).context("could not write the JSON report")?;
        writeln!(out)?;
    } else {
        report::table(&mut out, plan, &results)?;
    }
    Ok(())
}

/// A progress line on stderr (the report itself goes to stdout).
fn progress(line: &str) {
    eprintln!("{line}");
}
