//! Throughput estimate: two exponentially weighted moving averages over segment transfers.
//!
//! Each sample is weighted by its transfer time, so a half-life is counted in seconds of
//! downloading, not in samples (hls.js `ewma-bandwidth-estimator`, after Shaka Player). The fast
//! average (half-life 3 s) reacts to drops, the slow one (9 s) ignores short spikes; the estimate
//! is the lower of the two, so it falls fast and rises slowly.

use std::time::Duration;

/// One exponentially weighted moving average with a half-life in seconds of sample weight.
#[derive(Debug, Clone, Copy)]
struct Ewma {
    alpha: f64,
    estimate: f64,
    total_weight: f64,
}

impl Ewma {
    fn new(half_life: Duration) -> Self {
        let h = half_life.as_secs_f64().max(1e-3);
        Self {
            alpha: (0.5f64.ln() / h).exp(),
            estimate: 0.0,
            total_weight: 0.0,
        }
    }

    fn sample(&mut self, weight: f64, value: f64) {
        let a = self.alpha.powf(weight);
        self.estimate = value * (1.0 - a) + a * self.estimate;
        self.total_weight += weight;
    }

    /// The average, corrected for its zero start (so the first sample counts in full).
    fn get(&self) -> f64 {
        let zero_factor = 1.0 - self.alpha.powf(self.total_weight);
        if zero_factor > 0.0 {
            self.estimate / zero_factor
        } else {
            0.0
        }
    }
}

/// Settings of the [`BandwidthEstimator`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct EstimatorConfig {
    /// Half-life of the fast average. Default: 3 s (hls.js `abrEwmaFastVoD`).
    pub fast_half_life: Duration,
    /// Half-life of the slow average. Default: 9 s (hls.js `abrEwmaSlowVoD`).
    pub slow_half_life: Duration,
    /// Transfers smaller than this are ignored: their time is mostly latency. Default: 4096 bytes
    /// (Shaka uses 16 kB, but one 2 s segment of 32 kbit/s audio is only 8 kB).
    pub min_sample_bytes: u64,
    /// Transfer times are counted as at least this long. Default: 50 ms (as hls.js).
    pub min_sample_time: Duration,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        Self {
            fast_half_life: Duration::from_secs(3),
            slow_half_life: Duration::from_secs(9),
            min_sample_bytes: 4096,
            min_sample_time: Duration::from_millis(50),
        }
    }
}

impl EstimatorConfig {
    /// Sets both half-lives.
    #[must_use]
    pub fn half_lives(mut self, fast: Duration, slow: Duration) -> Self {
        self.fast_half_life = fast;
        self.slow_half_life = slow;
        self
    }

    /// Sets the smallest transfer counted, in bytes.
    #[must_use]
    pub fn min_sample_bytes(mut self, bytes: u64) -> Self {
        self.min_sample_bytes = bytes;
        self
    }
}

/// Estimates throughput, in bits per second, from segment transfers.
#[derive(Debug, Clone)]
pub struct BandwidthEstimator {
    config: EstimatorConfig,
    fast: Ewma,
    slow: Ewma,
    samples: u64,
    last: Option<f64>,
}

impl BandwidthEstimator {
    /// An estimator with no samples.
    pub fn new(config: EstimatorConfig) -> Self {
        Self {
            config,
            fast: Ewma::new(config.fast_half_life),
            slow: Ewma::new(config.slow_half_life),
            samples: 0,
            last: None,
        }
    }

    /// Adds one segment transfer of `bytes` that took `elapsed` (request sent to last byte).
    /// Returns whether it was counted (transfers under `min_sample_bytes` are not).
    pub fn sample(&mut self, bytes: u64, elapsed: Duration) -> bool {
        if bytes < self.config.min_sample_bytes || bytes == 0 {
            return false;
        }
        let secs = elapsed.max(self.config.min_sample_time).as_secs_f64();
        let bps = bytes as f64 * 8.0 / secs;
        self.fast.sample(secs, bps);
        self.slow.sample(secs, bps);
        self.samples += 1;
        self.last = Some(bps);
        true
    }

    /// The estimate in bits per second: the lower of the two averages; `None` before any sample.
    pub fn estimate(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.fast.get().min(self.slow.get()))
    }

    /// The fast average alone, in bits per second; `None` before any sample.
    pub fn fast_estimate(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.fast.get())
    }

    /// The throughput of the last counted transfer, in bits per second.
    pub fn last(&self) -> Option<f64> {
        self.last
    }

    /// Number of transfers counted.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

impl Default for BandwidthEstimator {
    fn default() -> Self {
        Self::new(EstimatorConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn first_sample_counts_in_full_and_tiny_ones_not_at_all() {
        let mut e = BandwidthEstimator::default();
        assert_eq!(e.estimate(), None);
        assert!(!e.sample(1000, secs(0.001)), "tiny transfer ignored");
        assert_eq!(e.estimate(), None);
        assert!(e.sample(100_000, secs(1.0)));
        let est = e.estimate().unwrap();
        assert!((est - 800_000.0).abs() < 1e-6, "{est}");
        assert_eq!(e.last(), Some(800_000.0));
    }

    #[test]
    fn falls_fast_and_rises_slowly() {
        let settled = |kbps: u64| {
            let mut e = BandwidthEstimator::default();
            for _ in 0..30 {
                e.sample(kbps * 125, secs(1.0));
            }
            e
        };
        // One second at a tenth of the rate, then one second at ten times the rate.
        let mut down = settled(800);
        down.sample(80 * 125, secs(1.0));
        let fell = (800_000.0 - down.estimate().unwrap()) / 720_000.0;
        let mut up = settled(80);
        up.sample(800 * 125, secs(1.0));
        let rose = (up.estimate().unwrap() - 80_000.0) / 720_000.0;
        // The fast average closes 1 - 0.5^(1/3) = 21 % of a gap, the slow one 7.4 %.
        assert!((fell - 0.206).abs() < 0.01, "{fell}");
        assert!((rose - 0.074).abs() < 0.01, "{rose}");
    }

    #[test]
    fn half_life_is_in_seconds_of_transfer() {
        // With a 3 s half-life, 3 s of transfer at a new rate closes half the gap of the fast average.
        let mut fast = Ewma::new(secs(3.0));
        fast.sample(100.0, 0.0); // long history at 0
        fast.sample(3.0, 1000.0);
        let v = fast.get();
        assert!((v - 500.0).abs() < 1.0, "{v}");
    }

    proptest! {
        /// The estimate stays within the range of the sampled rates.
        #[test]
        fn bounded_by_samples(samples in proptest::collection::vec((4096u64..10_000_000, 10u64..20_000), 1..50)) {
            let mut e = BandwidthEstimator::default();
            let (mut lo, mut hi) = (f64::MAX, 0f64);
            for (bytes, ms) in samples {
                e.sample(bytes, Duration::from_millis(ms));
                let bps = bytes as f64 * 8.0 / Duration::from_millis(ms.max(50)).as_secs_f64();
                lo = lo.min(bps);
                hi = hi.max(bps);
            }
            let est = e.estimate().unwrap();
            prop_assert!(est >= lo * (1.0 - 1e-9) && est <= hi * (1.0 + 1e-9), "{} not in {}..{}", est, lo, hi);
        }
    }
}
