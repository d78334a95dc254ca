//! Results of the cases: medians and spreads, the stdout table and the JSON document.

use std::io::Write;

use serde::Serialize;

use super::Plan;

/// The median and spread of one side's measurements.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Stat {
    /// Median of the rounds.
    pub(crate) median: f64,
    /// Smallest round.
    pub(crate) min: f64,
    /// Largest round.
    pub(crate) max: f64,
    /// Number of rounds.
    pub(crate) runs: usize,
}

impl Stat {
    /// The statistics of `values` (`None` when empty or not all finite).
    pub(crate) fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        })
    }

    /// Spread as a fraction of the median, (max - min) / median.
    fn spread(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median
        }
    }
}

/// Which way a ratio is good.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Better {
    /// Larger is better (throughput): the goal is a minimum ratio.
    Higher,
    /// Smaller is better (latency, CPU): the goal is a maximum.
    Lower,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseResult {
    /// Stable id, `case.variant` (e.g. `throughput.memory_vs_raw`).
    pub(crate) id: String,
    /// Unit of `kithara` and `peer`.
    pub(crate) unit: &'static str,
    /// Which way is better.
    pub(crate) better: Better,
    /// kithara's measurements.
    pub(crate) kithara: Stat,
    /// What kithara is compared with, if anything.
    pub(crate) peer_name: Option<String>,
    /// The peer's measurements.
    pub(crate) peer: Option<Stat>,
    /// kithara's median / the peer's median.
    pub(crate) ratio: Option<f64>,
    /// The goal, as text.
    pub(crate) goal: String,
    /// Whether the goal is met (`None`: the row has no goal).
    pub(crate) met: Option<bool>,
    /// What was measured and how, or why something was skipped.
    pub(crate) note: Option<String>,
}

impl CaseResult {
    /// A comparison whose goal is a ratio bound (`kithara / peer` ≥ or ≤ `bound`).
    pub(crate) fn ratio(
        id: &str,
        unit: &'static str,
        better: Better,
        kithara: Stat,
        peer_name: &str,
        peer: Stat,
        bound: f64,
    ) -> CaseResult {
        let ratio = if peer.median > 0.0 {
            kithara.median / peer.median
        } else {
            f64::NAN
        };
        let (goal, met) = match better {
            Better::Higher => (format!("≥ {bound:.2}×"), ratio >= bound),
            Better::Lower => (format!("≤ {bound:.2}×"), ratio <= bound),
        };
        CaseResult {
            id: id.to_string(),
            unit,
            better,
            kithara,
            peer_name: Some(peer_name.to_string()),
            peer: Some(peer),
            ratio: ratio.is_finite().then_some(ratio),
            goal,
            met: Some(met),
            note: None,
        }
    }

    /// A measurement without a peer; with `bound`, the goal is its median being at most (for
    /// [`Better::Lower`]) or at least `bound`.
    pub(crate) fn alone(
        id: &str,
        unit: &'static str,
        better: Better,
        kithara: Stat,
        bound: Option<f64>,
    ) -> CaseResult {
        let (goal, met) = match (bound, better) {
            (None, _) => (String::from("-"), None),
            (Some(b), Better::Lower) => (
                format!("≤ {} {unit}", fmt_num(b)),
                Some(kithara.median <= b),
            ),
            (Some(b), Better::Higher) => (
                format!("≥ {} {unit}", fmt_num(b)),
                Some(kithara.median >= b),
            ),
        };
        CaseResult {
            id: id.to_string(),
            unit,
            better,
            kithara,
            peer_name: None,
            peer: None,
            ratio: None,
            goal,
            met,
            note: None,
        }
    }

    /// Adds a peer's measurements (and the ratio) for information; the goal stays kithara's own.
    pub(crate) fn with_peer(mut self, peer_name: &str, peer: Stat) -> CaseResult {
        self.ratio = (peer.median > 0.0).then(|| self.kithara.median / peer.median);
        self.peer_name = Some(peer_name.to_string());
        self.peer = Some(peer);
        self
    }

    /// Sets a goal the caller checked: its text and whether it is met.
    pub(crate) fn goal(mut self, goal: &str, met: bool) -> CaseResult {
        self.goal = goal.to_string();
        self.met = Some(met);
        self
    }

    /// Adds a note.
    pub(crate) fn note(mut self, note: impl Into<String>) -> CaseResult {
        self.note = Some(note.into());
        self
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub(crate) struct Document<'a> {
    /// Whether this was a `--quick` run.
    quick: bool,
    /// Rounds of every case.
    rounds: usize,
    /// The rows.
    cases: &'a [CaseResult],
}

impl<'a> Document<'a> {
    /// The document of a run.
    pub(crate) fn new(plan: Plan, cases: &'a [CaseResult]) -> Self {
        Document {
            quick: plan.quick,
            rounds: plan.rounds,
            cases,
        }
    }
}

fn fmt_stat(s: &Stat, unit: &str) -> String {
    if s.median == 0.0 && s.max > s.min {
        // A spread relative to 0 means nothing: the range instead.
        return format!(
            "{} {unit} ({}..{})",
            fmt_num(s.median),
            fmt_num(s.min),
            fmt_num(s.max)
        );
    }
    format!("{} {unit} ±{:.0}%", fmt_num(s.median), s.spread() * 50.0)
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Writes the table: case, kithara, peer, ratio, goal, ✓/✗, then the notes.
pub(crate) fn table(out: &mut impl Write, plan: Plan, rows: &[CaseResult]) -> std::io::Result<()> {
    writeln!(
        out,
        "kithara bench{}: median of {} rounds, ± half the min..max spread",
        if plan.quick { " --quick" } else { "" },
        plan.rounds
    )?;
    let head = ["case", "kithara", "peer", "ratio", "goal", ""];
    let mut cells: Vec<[String; 6]> = vec![head.map(String::from)];
    for r in rows {
        let peer = match (&r.peer_name, &r.peer) {
            (Some(n), Some(p)) => format!("{n}: {}", fmt_stat(p, r.unit)),
            (Some(n), None) => n.clone(),
            _ => String::from("-"),
        };
        cells.push([
            r.id.clone(),
            fmt_stat(&r.kithara, r.unit),
            peer,
            r.ratio
                .map_or_else(|| String::from("-"), |x| format!("{x:.2}×")),
            r.goal.clone(),
            String::from(match r.met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "",
            }),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    for row in &cells {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(c);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    let notes: Vec<_> = rows
        .iter()
        .filter_map(|r| r.note.as_ref().map(|n| (&r.id, n)))
        .collect();
    if !notes.is_empty() {
        writeln!(out)?;
        for (id, n) in notes {
            writeln!(out, "{id}: {n}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_median_and_spread() {
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap_or(Stat {
            median: 0.0,
            min: 0.0,
            max: 0.0,
            runs: 0,
        });
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
        assert!(Stat::of(&[]).is_none());
        assert!(Stat::of(&[1.0, f64::NAN]).is_none());
        let even = Stat::of(&[4.0, 1.0, 2.0, 3.0]).map(|s| s.median);
        assert_eq!(even, Some(2.5));
    }

    #[test]
    fn ratio_goals_follow_direction() {
        let a = Stat::of(&[90.0]).unwrap_or_else(|| unreachable!());
        let b = Stat::of(&[100.0]).unwrap_or_else(|| unreachable!());
        let up = CaseResult::ratio("t", "MiB/s", Better::Higher, a, "raw", b, 0.9);
        assert_eq!(up.met, Some(true));
        let down = CaseResult::ratio("l", "ms", Better::Lower, b, "peer", a, 1.0);
        assert_eq!(down.met, Some(false));
        let none = CaseResult::alone("w", "µs", Better::Lower, a, None);
        assert_eq!(none.met, None);
        let low = CaseResult::alone("w", "µs", Better::Lower, a, Some(200.0));
        assert_eq!(low.met, Some(true));
    }
}
