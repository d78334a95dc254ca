//! Giving up on a segment whose download would stall the reader (hls.js calls these the abandon
//! rules): while a segment loads, its progress is checked every [`CHECK_EVERY`]; once half of
//! its duration has passed, if what is left would take longer than the buffer lasts, the fetch
//! is cancelled and the same segment is taken from the highest lower variant that can arrive
//! sooner at the rate just measured. The partial transfer feeds the bandwidth estimate.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

/// How often a loading segment's progress is checked.
pub(super) const CHECK_EVERY: Duration = Duration::from_millis(100);

/// The segment being fetched.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) id: u64,
    pub(super) variant: usize,
    pub(super) sequence: u64,
    pub(super) token: CancellationToken,
    pub(super) started: Instant,
    /// Body bytes received so far (updated by the writer).
    pub(super) loaded: Arc<AtomicU64>,
    /// Expected size: from the response, or bitrate × duration before it.
    pub(super) expected: Arc<AtomicU64>,
    pub(super) duration: Duration,
}

/// What to do about a segment in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Let it finish.
    Keep,
    /// Cancel it and fetch the same segment from this variant.
    SwitchTo(usize),
}

impl InFlight {
    /// Applies the rule with `buffer` seconds ahead of the reader, `ladder` bitrates (bits/s) and
    /// `allowed` variants (not excluded, not over the cap).
    pub(super) fn verdict(
        &self,
        now: Instant,
        buffer: Duration,
        ladder: &[u64],
        allowed: &[usize],
    ) -> Verdict {
        let elapsed = now.saturating_duration_since(self.started);
        let loaded = self.loaded.load(Ordering::Acquire);
        let expected = self.expected.load(Ordering::Acquire);
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
            .filter(|&v| ladder.get(v).is_some_and(|&b| b < current))
            .filter(|&v| (ladder[v] as f64 * seconds / 8.0) / rate < left)
            .max_by_key(|&v| ladder[v])
            .map_or(Verdict::Keep, Verdict::SwitchTo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(variant: usize, loaded: u64, expected: u64, ago: Duration) -> (InFlight, Instant) {
        let now = Instant::now();
        let f = InFlight {
            id: 1,
            variant,
            sequence: 0,
            token: CancellationToken::new(),
            started: now - ago,
            loaded: Arc::new(AtomicU64::new(loaded)),
            expected: Arc::new(AtomicU64::new(expected)),
            duration: Duration::from_secs(2),
        };
        (f, now)
    }

    #[test]
    fn a_stalling_download_switches_to_a_lower_variant_that_arrives_sooner() {
        let ladder = [20_000, 28_000, 36_000];
        // 9000 bytes expected, 2500 in after 1 s (2.5 kB/s): 2.6 s left with an empty buffer.
        let (f, now) = flight(2, 2500, 9000, Duration::from_secs(1));
        assert_eq!(
            f.verdict(now, Duration::ZERO, &ladder, &[0, 1, 2]),
            Verdict::SwitchTo(0)
        );
        // A buffer that outlasts the rest keeps it.
        assert_eq!(
            f.verdict(now, Duration::from_secs(3), &ladder, &[0, 1, 2]),
            Verdict::Keep
        );
        // Too early to judge, or nothing lower that is allowed.
        let (early, now2) = flight(2, 100, 9000, Duration::from_millis(400));
        assert_eq!(
            early.verdict(now2, Duration::ZERO, &ladder, &[0, 1, 2]),
            Verdict::Keep
        );
        assert_eq!(f.verdict(now, Duration::ZERO, &ladder, &[2]), Verdict::Keep);
    }
}
