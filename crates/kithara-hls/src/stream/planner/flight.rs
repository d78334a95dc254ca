//! The segment being fetched, and giving up on it when its download would stall the reader (hls.js
//! calls these the abandon rules): while a segment loads, its progress is checked every
//! [`CHECK_EVERY`]; once half of its duration has passed, if what is left would take longer than
//! the buffer lasts, the fetch is cancelled and the same segment is taken from the highest lower
//! variant that can arrive sooner at the rate just measured. Only a segment not laid out yet is
//! given up: a placed piece is final.

use std::time::{Duration, Instant};

/// How often a loading segment's progress is checked.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(100);

/// The segment being fetched, with the adapter's handle on its fetch (`F`: its cancel token and
/// progress counters).
#[derive(Debug)]
pub(crate) struct Flight<F> {
    pub(crate) id: u64,
    pub(crate) variant: usize,
    pub(crate) sequence: u64,
    pub(crate) started: Instant,
    pub(crate) duration: Duration,
    pub(crate) handle: F,
}

/// How far a segment's download got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Body bytes received so far.
    pub(crate) loaded: u64,
    /// Expected size: from the response, or bitrate × duration before it.
    pub(crate) expected: u64,
}

/// What to do about a segment in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let it finish.
    Keep,
    /// Cancel it and fetch the same segment from this variant.
    SwitchTo(usize),
}

impl<F> Flight<F> {
    /// Applies the rule at `now` with `progress`, `buffer` seconds ahead of the reader, `ladder`
    /// bitrates (bits/s) and `allowed` variants (not excluded, not over the cap).
    pub(crate) fn verdict(
        &self,
        now: Instant,
        progress: Progress,
        buffer: Duration,
        ladder: &[u64],
        allowed: &[usize],
    ) -> Verdict {
        let elapsed = now.saturating_duration_since(self.started);
        let Progress { loaded, expected } = progress;
        if elapsed < self.duration / 2 || loaded == 0 || expected <= loaded {
            return Verdict::Keep;
        }
        let rate = loaded as f64 / elapsed.as_secs_f64(); // bytes per second
        let left = (expected - loaded) as f64 / rate;
        if left <= buffer.as_secs_f64() {
            return Verdict::Keep;
        }
        let current = ladder.get(self.variant).copied().unwrap_or(0);
        let seconds = self.duration.as_secs_f64();
        allowed
            .iter()
            .copied()
            .filter_map(|v| ladder.get(v).map(|&b| (v, b)))
            .filter(|&(_, b)| b < current)
            .filter(|&(_, b)| (b as f64 * seconds / 8.0) / rate < left)
            .max_by_key(|&(_, b)| b)
            .map_or(Verdict::Keep, |(v, _)| Verdict::SwitchTo(v))
    }
}
