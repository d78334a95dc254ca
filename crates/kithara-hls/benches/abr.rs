//! ABR simulation on bandwidth traces: kithara's buffer rule against a plain throughput rule.
//!
//! Prints a table (rebuffer time, average bitrate, switches per rule and trace), then times one
//! simulation per trace with criterion. Run with `cargo bench -p kithara-hls --bench abr`.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, Criterion};
use kithara_hls::abr::sim::{simulate, SimConfig, SimReport, Trace};
use kithara_hls::abr::{AbrPolicy, BufferRule, ThroughputRule};

/// The fixture ladder: 32/64/128 kbit/s AAC, 2 s segments, 5 minutes.
const LADDER: [u64; 3] = [32_000, 64_000, 128_000];

fn traces() -> Vec<(&'static str, Trace)> {
    [
        ("steady", include_str!("../traces/steady.csv")),
        ("step_down", include_str!("../traces/step_down.csv")),
        ("oscillating", include_str!("../traces/oscillating.csv")),
    ]
    .into_iter()
    .map(|(name, csv)| (name, Trace::parse_csv(csv).unwrap()))
    .collect()
}

fn policies() -> Vec<(&'static str, Box<dyn AbrPolicy>)> {
    vec![
        ("buffer rule (kithara)", Box::new(BufferRule::default())),
        ("throughput rule", Box::new(ThroughputRule::new())),
    ]
}

fn run(policy: &mut dyn AbrPolicy, trace: &Trace) -> SimReport {
    simulate(policy, trace, &SimConfig::new(LADDER.to_vec())).unwrap()
}

fn print_table() {
    println!();
    println!("ABR simulation: ladder 32/64/128 kbit/s, 2 s segments, 150 segments, 30 s buffer target, 50 ms RTT");
    println!(
        "{:<12} {:<22} {:>12} {:>7} {:>11} {:>12} {:>9}",
        "trace", "rule", "rebuffer (s)", "stalls", "startup (s)", "avg (kbit/s)", "switches"
    );
    for (name, trace) in traces() {
        for (rule, mut policy) in policies() {
            let r = run(policy.as_mut(), &trace);
            println!(
                "{:<12} {:<22} {:>12.2} {:>7} {:>11.2} {:>12.1} {:>9}",
                name,
                rule,
                r.rebuffer.as_secs_f64(),
                r.stalls,
                r.startup.as_secs_f64(),
                r.average_kbps,
                r.switches
            );
        }
    }
    println!();
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("abr_simulation");
    for (name, trace) in traces() {
        group.bench_function(name, |b| {
            b.iter(|| run(&mut BufferRule::default(), black_box(&trace)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    print_table();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
