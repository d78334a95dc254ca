//! Case 9, ABR on the real peer: the bandwidth traces of kithara-hls' ABR simulation replayed on
//! a throttled loopback server against `Stream<Hls>`, read by a player at the media rate, once
//! with kithara's rule (`BufferRule`) and once with a plain throughput rule.
//!
//! Scaling: the traces are written for a 32/64/128 kbit/s ladder, the bundled ladder is
//! 20/28/36 kbit/s (BANDWIDTH; its TS bytes run a little faster). Rates are mapped variant to
//! variant: linearly between the simulation's variant i and i + 1 onto the bundled variants' real
//! byte rates, proportionally below the lowest and above the top, so a trace that sits between
//! two variants of the simulation's ladder sits between the same two here. Time is compressed by K: the player
//! reads K× faster than real time and the trace's times are divided by K and its rates
//! multiplied by K; the master playlist's BANDWIDTH values are multiplied by K too, so that the
//! rule compares its wall-clock throughput with bitrates in the same time base. The buffer
//! levels and segment durations the rule sees stay in media seconds. The bundled 30 s of media
//! is looped to the simulation's 150 segments (≈ 5 min), which covers the traces.

mod player;
mod replay;

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use kithara_hls::abr::{
    sim::Trace, AbrPolicy, BufferRule, BufferRuleConfig, EstimatorConfig, ThroughputRule,
};
use tokio::runtime::Runtime;

use self::replay::{Ladder, Outcome, Replay, LADDER};
use super::{
    fixture::Fixture,
    plot,
    report::{Better, CaseResult, Stat},
    Plan,
};

/// The simulation's ladder (the traces' scale), bits per second.
const SIM_LADDER: [f64; 3] = [32_000.0, 64_000.0, 128_000.0];

/// Segments played: as many as the simulation plays.
const SEGMENTS: usize = 150;

/// Longest acceptable stall: one segment of media.
const ONE_SEGMENT: f64 = 2.0;

/// The traces of kithara-hls' ABR simulation, `(seconds, kbit/s)` rows.
const TRACES: &[(&str, &str)] = &[
    (
        "steady",
        include_str!("../../../kithara-hls/traces/steady.csv"),
    ),
    (
        "step_down",
        include_str!("../../../kithara-hls/traces/step_down.csv"),
    ),
    (
        "oscillating",
        include_str!("../../../kithara-hls/traces/oscillating.csv"),
    ),
];

/// A rule under test: row name and maker (given K).
struct Rule {
    name: &'static str,
    make: fn(f64) -> Box<dyn AbrPolicy>,
}

/// kithara's rule with its defaults, the constants that are rates or wall-clock times moved to
/// the replay's time base: the initial estimate × K, the estimator's half-lives and minimum
/// sample time ÷ K. Its buffer thresholds are in media seconds already.
fn buffer_rule(k: f64) -> Box<dyn AbrPolicy> {
    let mut c = BufferRuleConfig::default();
    c.initial_estimate = (c.initial_estimate as f64 * k).round() as u64;
    c.estimator.fast_half_life = c.estimator.fast_half_life.div_f64(k);
    c.estimator.slow_half_life = c.estimator.slow_half_life.div_f64(k);
    c.estimator.min_sample_time = c.estimator.min_sample_time.div_f64(k);
    Box::new(BufferRule::new(c))
}

/// The plain rule, its constants moved to the replay's time base the same way: the initial
/// estimate × K, the minimum sample time ÷ K.
fn throughput_rule(k: f64) -> Box<dyn AbrPolicy> {
    let mut e = EstimatorConfig::default();
    e.min_sample_time = e.min_sample_time.div_f64(k);
    Box::new(ThroughputRule::with_config(
        e,
        (500_000.0 * k).round() as u64,
    ))
}

/// kithara's rule, then the peer.
const RULES: [Rule; 2] = [
    Rule {
        name: "kithara",
        make: buffer_rule,
    },
    Rule {
        name: "throughput",
        make: throughput_rule,
    },
];

/// What the rows are made of, per rule.
#[derive(Debug, Default)]
struct Rounds {
    rebuffer: Vec<f64>,
    longest: Vec<f64>,
    startup: Vec<f64>,
    kbps: Vec<f64>,
    switches: Vec<f64>,
}

impl Rounds {
    fn push(&mut self, o: &Outcome, ladder: &Ladder) {
        let c = &o.played.clock;
        self.rebuffer.push(c.rebuffer);
        self.longest.push(c.longest);
        self.startup.push(o.played.startup);
        let (mut bits, mut secs) = (0.0, 0.0);
        for (i, &v) in o.variants.iter().enumerate() {
            let d = ladder.duration(i);
            bits += LADDER.get(v).copied().unwrap_or(0) as f64 * d;
            secs += d;
        }
        self.kbps.push(bits / secs.max(1e-9) / 1e3);
        let switches = o.variants.windows(2).filter(|w| w[0] != w[1]).count();
        self.switches.push(switches as f64);
    }
}

/// A trace at fixture scale: its name and `(start media second, bits per second)` points.
type Scaled = (&'static str, Vec<(f64, f64)>);

/// Maps a rate of the traces' scale onto the bundled ladder whose variants carry `real` bits per
/// second: linear between corresponding variants, proportional outside the ladder.
fn to_fixture(bps: f64, real: &[f64; 3]) -> f64 {
    let sim = SIM_LADDER;
    if bps <= sim[0] {
        return bps * real[0] / sim[0];
    }
    for i in 1..sim.len() {
        if bps <= sim[i] {
            let f = (bps - sim[i - 1]) / (sim[i] - sim[i - 1]);
            return real[i - 1] + f * (real[i] - real[i - 1]);
        }
    }
    bps * real[2] / sim[2]
}

/// The traces at fixture scale.
fn traces(real: &[f64; 3]) -> Result<Vec<Scaled>> {
    TRACES
        .iter()
        .map(|(name, csv)| {
            let t = Trace::parse_csv(csv).with_context(|| format!("trace {name}"))?;
            let points = t
                .points()
                .iter()
                .map(|&(s, kbps)| (s, to_fixture(kbps * 1e3, real)))
                .collect();
            Ok((*name, points))
        })
        .collect()
}

/// Runs the case; rows `abr.<trace>.*`, and with `out` one plot per trace.
pub(crate) fn run(plan: Plan, rt: &Runtime, out: Option<&Path>) -> Result<Vec<CaseResult>> {
    let k: f64 = if plan.quick { 30.0 } else { 10.0 };
    let ladder = Ladder::bundled()?;
    let real = [ladder.real_bps(0), ladder.real_bps(1), ladder.real_bps(2)];
    let traces = traces(&real)?;
    let fx = Fixture::new(rt, 16)?;
    // results[trace][rule]; first[trace][rule]: the first round's outcome, for the plots.
    let mut results: Vec<[Rounds; 2]> = traces.iter().map(|_| Default::default()).collect();
    let mut first: Vec<Vec<Outcome>> = traces.iter().map(|_| Vec::new()).collect();
    for round in 0..plan.rounds {
        // Every (trace, rule) of a round at once, each on its own routes and throttle.
        let outcomes: Vec<Vec<Result<Outcome>>> = std::thread::scope(|s| {
            let handles: Vec<Vec<_>> = traces
                .iter()
                .map(|(name, trace)| {
                    RULES
                        .iter()
                        .map(|rule| {
                            let replay = Replay {
                                prefix: format!("/abr/{name}/{}/{round}", rule.name),
                                k,
                                segments: SEGMENTS,
                                trace,
                                rule: rule.make,
                            };
                            let (fx, ladder) = (&fx, &ladder);
                            s.spawn(move || replay::run(fx, ladder, &replay))
                        })
                        .collect()
                })
                .collect();
            handles
                .into_iter()
                .map(|hs| {
                    hs.into_iter()
                        .map(|h| {
                            h.join()
                                .unwrap_or_else(|_| Err(anyhow!("a replay thread panicked")))
                        })
                        .collect()
                })
                .collect()
        });
        for (t, per_rule) in outcomes.into_iter().enumerate() {
            for (r, o) in per_rule.into_iter().enumerate() {
                let o = o.with_context(|| {
                    format!("trace {} with the {} rule", traces[t].0, RULES[r].name)
                })?;
                results[t][r].push(&o, &ladder);
                if round == 0 {
                    first[t].push(o);
                }
            }
        }
    }
    let real_kbps: Vec<String> = real.iter().map(|r| format!("{:.1}", r / 1e3)).collect();
    let at = |kbps: f64| to_fixture(kbps * 1e3, &real) / 1e3;
    let how = format!(
        "kithara-hls' ABR traces (5 min, written for a 32/64/128 kbit/s ladder) mapped variant \
         to variant onto the bundled TS ladder (BANDWIDTH 20/28/36 kbit/s carrying {} kbit/s of \
         TS bytes): linear between variants, proportional outside, so step_down's 48 kbit/s \
         becomes {:.1} and oscillating's 50 becomes {:.1}, between the two lowest variants as in \
         the simulation; \
         the 30 s ladder looped to {SEGMENTS} segments; time compressed K = {k:.0}× (player, \
         trace times and rates, and the master's BANDWIDTH all × K; seconds are media seconds); \
         kithara = BufferRule defaults, peer = the plain ThroughputRule, both with their initial \
         estimate × K and their estimator's half-lives and 50 ms minimum sample ÷ K; the HLS \
         peer's abandon check (wall clock) is not scaled; the player starts once 0.5 s of media is \
         read, then reads 0.5 s ahead of its clock; a stall runs from a read blocking past the \
         media read until 0.5 s is read ahead again; the (trace, rule) replays of a round run at \
         once",
        real_kbps.join("/"),
        at(48.0),
        at(50.0),
    );
    let mut rows = Vec::new();
    for (t, (name, trace)) in traces.iter().enumerate() {
        rows.extend(trace_rows(
            name,
            &results[t],
            (t == 0).then_some(how.as_str()),
        )?);
        if let Some(dir) = out {
            let path = dir.join(format!("abr_{name}.svg"));
            let series: Vec<plot::AbrSeries<'_>> = first[t]
                .iter()
                .zip(&RULES)
                .map(|(o, rule)| plot::AbrSeries {
                    name: rule.name,
                    chosen: o
                        .fetched
                        .iter()
                        .filter_map(|&(at, v)| LADDER.get(v).map(|&b| (at, b as f64 / 1e3)))
                        .collect(),
                    buffer: buffer_levels(o),
                })
                .collect();
            let bandwidth: Vec<(f64, f64)> = trace.iter().map(|&(s, b)| (s, b / 1e3)).collect();
            plot::abr_replay(&path, name, k, &bandwidth, &series)?;
        }
    }
    Ok(rows)
}

/// Buffer level over time: media fetched minus media played.
fn buffer_levels(o: &Outcome) -> Vec<(f64, f64)> {
    let mut i = 0;
    let mut fetched = 0.0;
    o.played
        .positions
        .iter()
        .map(|&(at, pos)| {
            while i < o.fetched_media.len() && o.fetched_media[i].0 <= at {
                fetched = o.fetched_media[i].1;
                i += 1;
            }
            (at, (fetched - pos).max(0.0))
        })
        .collect()
}

/// The rows of one trace.
fn trace_rows(name: &str, r: &[Rounds; 2], how: Option<&str>) -> Result<Vec<CaseResult>> {
    let (ours, theirs) = (&r[0], &r[1]);
    // One metric, kithara's rule against the throughput rule; with both sides' statistics.
    let row = |metric: &str, unit: &'static str, better, a: &[f64], b: &[f64]| {
        let stat = |v: &[f64]| Stat::of(v).context("no replay measured");
        let (a, b) = (stat(a)?, stat(b)?);
        let row = CaseResult::alone(&format!("abr.{name}.{metric}"), unit, better, a, None)
            .with_peer("throughput rule", b);
        anyhow::Ok((row, a, b))
    };
    let (rebuffer, a, b) = row(
        "rebuffer",
        "s",
        Better::Lower,
        &ours.rebuffer,
        &theirs.rebuffer,
    )?;
    let rebuffer = rebuffer.goal("≤ peer", a.median <= b.median).note(format!(
        "{}{name}: media seconds the player waited for bytes after it started",
        how.map_or_else(String::new, |h| format!("{h}. "))
    ));
    let (longest, a, _) = row(
        "longest_stall",
        "s",
        Better::Lower,
        &ours.longest,
        &theirs.longest,
    )?;
    let longest = longest.goal("≤ 2 s (max)", a.max <= ONE_SEGMENT);
    let (switches, a, b) = row(
        "switches",
        "switches",
        Better::Lower,
        &ours.switches,
        &theirs.switches,
    )?;
    let switches = switches.goal("≤ peer", a.median <= b.median);
    let (startup, ..) = row(
        "startup",
        "s",
        Better::Lower,
        &ours.startup,
        &theirs.startup,
    )?;
    let (kbps, ..) = row(
        "bitrate",
        "kbit/s",
        Better::Higher,
        &ours.kbps,
        &theirs.kbps,
    )?;
    let kbps = kbps.note(format!(
        "{name}: average BANDWIDTH of the variants played, weighted by segment duration"
    ));
    Ok(vec![rebuffer, longest, switches, startup, kbps])
}
