//! An ABR simulator: plays a bandwidth trace against a policy and reports rebuffering, average
//! bitrate and switches.
//!
//! Time is simulated, not measured. Segments are fetched one after another; each takes one round
//! trip plus its size over the bandwidth of the trace at that moment (the trace holds its last
//! rate after its end). Fetching pauses while the buffer is at its target. Playback starts once
//! one segment is buffered; after that, any moment with an empty buffer counts as rebuffering.

use std::time::Duration;

use super::{AbrContext, AbrPolicy, Reason};

/// A bandwidth trace: from each time on, the link carries a rate until the next point.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// `(start second, kbit/s)`, by ascending time; the first starts at 0.
    points: Vec<(f64, f64)>,
}

/// A trace line that is not `seconds,kbit_per_s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trace line {line}: {text:?} is not `seconds,kbit_per_s` with ascending seconds from 0")]
pub struct TraceError {
    /// 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
}

impl Trace {
    /// Parses CSV rows `seconds,kbit_per_s`; blank lines, `#` comments and a header row whose
    /// first field is not a number are skipped.
    pub fn parse_csv(text: &str) -> Result<Self, TraceError> {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = || TraceError {
                line: n + 1,
                text: raw.to_owned(),
            };
            let (t, rate) = line.split_once(',').ok_or_else(err)?;
            let Ok(t) = t.trim().parse::<f64>() else {
                if points.is_empty() && n == 0 {
                    continue; // header
                }
                return Err(err());
            };
            let rate: f64 = rate.trim().parse().map_err(|_| err())?;
            let ascending = points.last().map_or(t == 0.0, |&(prev, _)| t > prev);
            if !ascending || !rate.is_finite() || rate < 0.0 || !t.is_finite() {
                return Err(err());
            }
            points.push((t, rate));
        }
        if points.is_empty() {
            return Err(TraceError {
                line: 0,
                text: String::new(),
            });
        }
        Ok(Self { points })
    }

    /// A trace of one constant rate.
    pub fn constant(kbit_per_s: f64) -> Self {
        Self {
            points: vec![(0.0, kbit_per_s)],
        }
    }

    /// The points `(start second, kbit/s)`, by ascending time; the first starts at 0.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The rate at second `t`, in bits per second.
    fn bps_at(&self, t: f64) -> f64 {
        let i = self.points.partition_point(|&(start, _)| start <= t);
        self.points[i.saturating_sub(1)].1 * 1000.0
    }

    /// When the rate changes next after `t`.
    fn next_change(&self, t: f64) -> Option<f64> {
        self.points.iter().map(|&(s, _)| s).find(|&s| s > t)
    }

    /// Seconds to move `bytes` starting at second `t` (piecewise over the trace). A rate of 0 for
    /// ever never finishes: `None`.
    fn transfer_time(&self, t: f64, bytes: f64) -> Option<f64> {
        let mut now = t;
        let mut left = bytes * 8.0;
        loop {
            let rate = self.bps_at(now);
            match self.next_change(now) {
                Some(change) => {
                    let can = rate * (change - now);
                    if can >= left {
                        return Some(now + left / rate - t);
                    }
                    left -= can;
                    now = change;
                }
                None if rate > 0.0 => return Some(now + left / rate - t),
                None => return None,
            }
        }
    }
}

/// The setting of a simulation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimConfig {
    /// Bitrate of each variant, bits per second.
    pub ladder: Vec<u64>,
    /// Duration of every segment. Default: 2 s.
    pub segment: Duration,
    /// Number of segments played. Default: 150 (5 minutes of 2 s segments).
    pub segments: usize,
    /// Buffer-ahead target. Default: 30 s.
    pub buffer_target: Duration,
    /// Round trip added to every segment fetch. Default: 50 ms.
    pub rtt: Duration,
}

impl SimConfig {
    /// A simulation of `ladder` (bits per second) with the defaults.
    pub fn new(ladder: Vec<u64>) -> Self {
        Self {
            ladder,
            segment: Duration::from_secs(2),
            segments: 150,
            buffer_target: Duration::from_secs(30),
            rtt: Duration::from_millis(50),
        }
    }

    /// Sets the number of segments.
    #[must_use]
    pub fn segments(mut self, n: usize) -> Self {
        self.segments = n;
        self
    }
}

/// What a simulation measured.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimReport {
    /// Time from start to playback.
    pub startup: Duration,
    /// Time playback stalled after it started.
    pub rebuffer: Duration,
    /// Number of stalls.
    pub stalls: usize,
    /// Mean bitrate of the segments played, kbit/s.
    pub average_kbps: f64,
    /// Variant changes between consecutive segments.
    pub switches: usize,
    /// Variant of each segment.
    pub variants: Vec<usize>,
    /// What happened to each segment.
    pub steps: Vec<SimStep>,
}

/// One simulated segment fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SimStep {
    /// When the fetch started, from the start of the simulation.
    pub at: Duration,
    /// The variant chosen.
    pub variant: usize,
    /// Why.
    pub reason: Reason,
    /// Buffer level when the variant was chosen.
    pub buffer_before: Duration,
    /// Time from request to last byte.
    pub download: Duration,
    /// Playback stalled during this fetch for this long.
    pub stalled: Duration,
}

/// Plays `trace` with `policy`; `None` if the trace stops carrying data for good.
pub fn simulate(
    policy: &mut dyn AbrPolicy,
    trace: &Trace,
    config: &SimConfig,
) -> Option<SimReport> {
    let seg = config.segment.as_secs_f64();
    let target = config.buffer_target.as_secs_f64();
    let mut now = 0.0f64;
    let mut buffer = 0.0f64;
    let mut playing = false;
    let mut startup = 0.0;
    let mut rebuffer = 0.0;
    let mut stalls = 0;
    let mut stalled = false;
    let mut current = 0usize;
    let mut variants = Vec::with_capacity(config.segments);
    let mut steps = Vec::with_capacity(config.segments);
    for _ in 0..config.segments {
        // Wait for room in the buffer.
        if playing && buffer + seg > target {
            let wait = buffer + seg - target;
            now += wait;
            buffer -= wait;
        }
        let ctx = AbrContext::new(
            &config.ladder,
            current,
            Duration::from_secs_f64(buffer),
            config.segment,
        )
        .buffer_target(config.buffer_target);
        let decision = policy.decide(&ctx)?;
        let variant = decision.variant;
        let bytes = config.ladder.get(variant).copied().unwrap_or(0) as f64 * seg / 8.0;
        let rtt = config.rtt.as_secs_f64();
        let took = rtt + trace.transfer_time(now + rtt, bytes)?;
        let mut step = SimStep {
            at: Duration::from_secs_f64(now),
            variant,
            reason: decision.reason,
            buffer_before: Duration::from_secs_f64(buffer),
            download: Duration::from_secs_f64(took),
            stalled: Duration::ZERO,
        };
        if playing {
            if took > buffer {
                step.stalled = Duration::from_secs_f64(took - buffer);
                rebuffer += took - buffer;
                if !stalled {
                    stalls += 1;
                }
                stalled = true;
                buffer = 0.0;
            } else {
                buffer -= took;
                stalled = false;
            }
        }
        now += took;
        buffer += seg;
        policy.on_transfer(bytes as u64, Duration::from_secs_f64(took));
        if !playing {
            playing = true;
            startup = now;
        }
        current = variant;
        variants.push(variant);
        steps.push(step);
    }
    let switches = variants.windows(2).filter(|w| w[0] != w[1]).count();
    let average_kbps = if variants.is_empty() {
        0.0
    } else {
        variants
            .iter()
            .map(|&v| config.ladder.get(v).copied().unwrap_or(0) as f64)
            .sum::<f64>()
            / variants.len() as f64
            / 1000.0
    };
    Some(SimReport {
        startup: Duration::from_secs_f64(startup),
        rebuffer: Duration::from_secs_f64(rebuffer),
        stalls,
        average_kbps,
        switches,
        variants,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abr::{BufferRule, ThroughputRule};

    #[test]
    fn parses_traces() {
        let t = Trace::parse_csv("seconds,kbit_per_s\n# comment\n0,100\n\n10,50\n").unwrap();
        assert_eq!(t.points, vec![(0.0, 100.0), (10.0, 50.0)]);
        assert_eq!(t.bps_at(9.9), 100_000.0);
        assert_eq!(t.bps_at(10.0), 50_000.0);
        assert!(Trace::parse_csv("1,100\n").is_err(), "must start at 0");
        assert!(Trace::parse_csv("0,100\n0,50\n").is_err(), "must ascend");
        assert_eq!(Trace::parse_csv("0,1\nx,2\n").unwrap_err().line, 2);
        assert!(Trace::parse_csv("").is_err());
    }

    #[test]
    fn transfer_time_crosses_rate_changes() {
        let t = Trace::parse_csv("0,80\n1,8\n").unwrap();
        // 10 kB = 80 kbit: at 80 kbit/s from 0 it takes 1 s.
        assert!((t.transfer_time(0.0, 10_000.0).unwrap() - 1.0).abs() < 1e-9);
        // From 0.5 s: 40 kbit in the first half second, the other 40 at 8 kbit/s = 5 s.
        assert!((t.transfer_time(0.5, 10_000.0).unwrap() - 5.5).abs() < 1e-9);
        assert_eq!(Trace::constant(0.0).transfer_time(0.0, 1.0), None);
    }

    #[test]
    fn fast_link_plays_the_top_variant_without_stalls() {
        let config = SimConfig::new(vec![32_000, 64_000, 128_000]).segments(60);
        for policy in [
            &mut BufferRule::default() as &mut dyn AbrPolicy,
            &mut ThroughputRule::new(),
        ] {
            let r = simulate(policy, &Trace::constant(2000.0), &config).unwrap();
            assert_eq!(r.rebuffer, Duration::ZERO);
            assert_eq!(r.variants.last(), Some(&2));
            assert!(r.switches <= 1, "{r:?}");
        }
    }

    #[test]
    fn a_link_below_the_lowest_variant_stalls() {
        let config = SimConfig::new(vec![32_000, 64_000]).segments(20);
        let r = simulate(&mut BufferRule::default(), &Trace::constant(16.0), &config).unwrap();
        assert!(r.rebuffer > Duration::from_secs(10), "{r:?}");
        assert!(r.variants[2..].iter().all(|&v| v == 0));
        let stalled: Duration = r.steps.iter().map(|s| s.stalled).sum();
        assert!(stalled.abs_diff(r.rebuffer) < Duration::from_millis(1));
        // 32 kbit/s over 16 kbit/s: each 2 s segment takes 4 s plus the round trip.
        assert_eq!(r.steps[5].download, Duration::from_millis(4050));
        assert_eq!(r.steps[0].reason, Reason::Initial);
    }
}
