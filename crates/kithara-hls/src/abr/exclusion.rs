//! Variants excluded for a while after failures, and the failover choice.
//!
//! When a variant's segment or media playlist fails for good (404, 410, retries exhausted), the
//! variant is excluded until a deadline; repeated failures double the time, up to a maximum, and
//! a success resets the count (hls.js and ExoPlayer both exclude a failing rendition for a time
//! and retry it later). Time is passed in, so the bookkeeping is pure.

use std::time::{Duration, Instant};

/// How long a failed variant stays excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExclusionConfig {
    /// Exclusion after the first failure. Default: 30 s.
    pub base: Duration,
    /// Longest exclusion. Default: 5 min.
    pub max: Duration,
}

impl Default for ExclusionConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max: Duration::from_secs(300),
        }
    }
}

impl ExclusionConfig {
    /// Sets the first and the longest exclusion.
    #[must_use]
    pub fn durations(mut self, base: Duration, max: Duration) -> Self {
        self.base = base;
        self.max = max.max(base);
        self
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    until: Option<Instant>,
    failures: u32,
}

/// The exclusion state of each variant.
#[derive(Debug, Clone)]
pub struct Exclusions {
    config: ExclusionConfig,
    entries: Vec<Entry>,
}

impl Exclusions {
    /// No variant excluded, for a ladder of `variants`.
    pub fn new(variants: usize, config: ExclusionConfig) -> Self {
        Self {
            config,
            entries: vec![Entry::default(); variants],
        }
    }

    /// Excludes `variant` after a failure at `now`; returns until when.
    pub fn exclude(&mut self, variant: usize, now: Instant) -> Option<Instant> {
        let config = self.config;
        let e = self.entries.get_mut(variant)?;
        let doublings = e.failures.min(16);
        let time = config
            .base
            .checked_mul(1u32 << doublings)
            .unwrap_or(config.max)
            .min(config.max);
        e.failures = e.failures.saturating_add(1);
        let until = now + time;
        e.until = Some(until);
        Some(until)
    }

    /// Records a success of `variant`: its next failure counts as the first again.
    pub fn succeeded(&mut self, variant: usize) {
        if let Some(e) = self.entries.get_mut(variant) {
            e.failures = 0;
        }
    }

    /// Whether `variant` is excluded at `now`.
    pub fn is_excluded(&self, variant: usize, now: Instant) -> bool {
        self.entries
            .get(variant)
            .and_then(|e| e.until)
            .is_some_and(|until| now < until)
    }

    /// The exclusion of each variant at `now`, for [`AbrContext::excluded`](super::AbrContext).
    pub fn mask(&self, now: Instant) -> Vec<bool> {
        (0..self.entries.len())
            .map(|i| self.is_excluded(i, now))
            .collect()
    }

    /// The variant to take the same segment from after `failed` failed: the highest bitrate not
    /// above the failed one among those not excluded, else the lowest above it; `None` when every
    /// other variant is excluded.
    pub fn failover(&self, failed: usize, ladder: &[u64], now: Instant) -> Option<usize> {
        let limit = ladder.get(failed).copied().unwrap_or(u64::MAX);
        let open = || (0..ladder.len()).filter(move |&i| i != failed && !self.is_excluded(i, now));
        open()
            .filter(|&i| ladder[i] <= limit)
            .max_by_key(|&i| (ladder[i], std::cmp::Reverse(i)))
            .or_else(|| open().min_by_key(|&i| (ladder[i], i)))
    }

    /// The earliest moment an excluded variant comes back, if any is excluded at `now`.
    pub fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.entries
            .iter()
            .filter_map(|e| e.until)
            .filter(|&u| u > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusion_expires_and_doubles() {
        let t0 = Instant::now();
        let mut x = Exclusions::new(3, ExclusionConfig::default());
        assert_eq!(x.exclude(1, t0), Some(t0 + Duration::from_secs(30)));
        assert!(x.is_excluded(1, t0 + Duration::from_secs(29)));
        assert!(!x.is_excluded(1, t0 + Duration::from_secs(30)));
        assert_eq!(x.mask(t0), vec![false, true, false]);
        assert_eq!(x.next_expiry(t0), Some(t0 + Duration::from_secs(30)));
        let t1 = t0 + Duration::from_secs(40);
        assert_eq!(
            x.exclude(1, t1),
            Some(t1 + Duration::from_secs(60)),
            "second failure doubles"
        );
        for _ in 0..10 {
            x.exclude(1, t1);
        }
        assert_eq!(
            x.exclude(1, t1),
            Some(t1 + Duration::from_secs(300)),
            "capped"
        );
        x.succeeded(1);
        assert_eq!(
            x.exclude(1, t1),
            Some(t1 + Duration::from_secs(30)),
            "reset by a success"
        );
        assert_eq!(x.exclude(7, t1), None);
        assert_eq!(x.next_expiry(t1 + Duration::from_secs(31)), None);
    }

    #[test]
    fn failover_prefers_the_next_lower_variant() {
        let t = Instant::now();
        let ladder = [64_000, 32_000, 128_000];
        let mut x = Exclusions::new(3, ExclusionConfig::default());
        x.exclude(2, t);
        assert_eq!(x.failover(2, &ladder, t), Some(0), "128k fails: 64k");
        x.exclude(0, t);
        assert_eq!(x.failover(0, &ladder, t), Some(1), "64k fails too: 32k");
        assert_eq!(x.failover(1, &ladder, t), None, "nothing left");
        let y = Exclusions::new(3, ExclusionConfig::default());
        assert_eq!(
            y.failover(1, &ladder, t),
            Some(0),
            "the lowest fails: the next one up"
        );
    }
}
