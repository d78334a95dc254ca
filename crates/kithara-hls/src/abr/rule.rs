//! kithara's bitrate rule: throughput with safety factors, gated by the buffer level.
//!
//! - Up only when the buffer holds at least `up_min_buffer` (ExoPlayer's
//!   `minDurationForQualityIncreaseMs`, capped at `up_target_fraction` of the buffer target, as
//!   ExoPlayer does near a live edge) and the estimate times `up_factor` (0.7, hls.js
//!   `abrBandWidthUpFactor`, ExoPlayer `bandwidthFraction`) clears the higher bitrate; then straight
//!   to the highest variant it clears.
//!   With a full buffer (at least `full_fraction` of the target, so fetching waits for room and a
//!   wrong guess costs little) the fast average alone is trusted, one variant up at a time: with
//!   small audio segments the slow average needs many transfers to recover after a drop.
//! - Down as soon as the buffer is under `down_max_buffer` (ExoPlayer's
//!   `maxDurationForQualityDecreaseMs`) and the estimate times `down_factor` (0.95, hls.js
//!   `abrBandWidthFactor`) no longer sustains the current bitrate; to the highest variant the
//!   estimate sustains with `up_factor`. Above `down_max_buffer` the buffer absorbs the dip.
//! - Emergency, whatever the buffer: when the next segment at the current bitrate would take
//!   longer to download than the buffer lasts (hls.js' starvation check, BBA's reservoir), the
//!   highest variant whose segment arrives in time with a margin, else the lowest.

use std::time::Duration;

use super::{
    common, highest_at_most, AbrContext, AbrPolicy, BandwidthEstimator, Decision, EstimatorConfig,
    Reason,
};

/// Constants of the [`BufferRule`]; the defaults follow hls.js and ExoPlayer (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BufferRuleConfig {
    /// Estimator settings.
    pub estimator: EstimatorConfig,
    /// Throughput assumed before the first transfer, in bits per second. Default: 500 kbit/s
    /// (hls.js `abrEwmaDefaultEstimate`).
    pub initial_estimate: u64,
    /// Fraction of the estimate a higher bitrate must fit in. Default: 0.7.
    pub up_factor: f64,
    /// Fraction of the estimate the current bitrate must fit in to be kept. Default: 0.95.
    pub down_factor: f64,
    /// Buffer needed before switching up. Default: 10 s.
    pub up_min_buffer: Duration,
    /// At most this fraction of the buffer target is required before switching up. Default: 0.75.
    pub up_target_fraction: f64,
    /// Buffer above which the rule never switches down. Default: 20 s.
    pub down_max_buffer: Duration,
    /// Fraction of the buffer target at which the buffer counts as full. Default: 0.9.
    pub full_fraction: f64,
    /// In an emergency, the next segment must arrive within this fraction of the buffer.
    /// Default: 0.8.
    pub emergency_margin: f64,
}

impl Default for BufferRuleConfig {
    fn default() -> Self {
        Self {
            estimator: EstimatorConfig::default(),
            initial_estimate: 500_000,
            up_factor: 0.7,
            down_factor: 0.95,
            up_min_buffer: Duration::from_secs(10),
            up_target_fraction: 0.75,
            down_max_buffer: Duration::from_secs(20),
            full_fraction: 0.9,
            emergency_margin: 0.8,
        }
    }
}

impl BufferRuleConfig {
    /// Sets the throughput assumed before the first transfer, in bits per second.
    #[must_use]
    pub fn initial_estimate(mut self, bps: u64) -> Self {
        self.initial_estimate = bps;
        self
    }

    /// Sets the buffer needed before switching up.
    #[must_use]
    pub fn up_min_buffer(mut self, d: Duration) -> Self {
        self.up_min_buffer = d;
        self
    }

    /// Sets the buffer above which the rule never switches down.
    #[must_use]
    pub fn down_max_buffer(mut self, d: Duration) -> Self {
        self.down_max_buffer = d;
        self
    }
}

/// kithara's ABR rule (see the module docs).
#[derive(Debug, Clone)]
pub struct BufferRule {
    config: BufferRuleConfig,
    estimator: BandwidthEstimator,
}

impl BufferRule {
    /// A rule with `config`.
    pub fn new(config: BufferRuleConfig) -> Self {
        Self {
            config,
            estimator: BandwidthEstimator::new(config.estimator),
        }
    }
}

impl Default for BufferRule {
    fn default() -> Self {
        Self::new(BufferRuleConfig::default())
    }
}

impl AbrPolicy for BufferRule {
    fn on_transfer(&mut self, bytes: u64, elapsed: Duration) {
        self.estimator.sample(bytes, elapsed);
    }

    fn decide(&mut self, ctx: &AbrContext<'_>) -> Option<Decision> {
        let c = &self.config;
        let measured = self.estimator.estimate();
        let est = measured.unwrap_or(c.initial_estimate as f64);
        let allowed = match common(ctx, est * c.up_factor) {
            Ok(decision) => return decision,
            Err(allowed) => allowed,
        };
        let fit = highest_at_most(ctx, &allowed, est * c.up_factor).unwrap_or(allowed[0]);
        let Some(_) = measured else {
            let reason = if fit == ctx.current {
                Reason::Hold
            } else {
                Reason::Initial
            };
            return Some(Decision::new(fit, reason));
        };
        let current_bps = ctx.bitrate(ctx.current) as f64;
        let seg = ctx.segment.as_secs_f64();
        let buffer = ctx.buffer.as_secs_f64();

        // Emergency: the next segment at the current bitrate would arrive after the buffer ran dry.
        let fetch_time = |bps: f64| {
            if est > 0.0 {
                seg * bps / est
            } else {
                f64::INFINITY
            }
        };
        if buffer > 0.0 && fetch_time(current_bps) > buffer {
            let deadline = buffer * c.emergency_margin;
            let v = allowed
                .iter()
                .rev()
                .copied()
                .find(|&i| {
                    ctx.bitrate(i) <= ctx.bitrate(ctx.current)
                        && fetch_time(ctx.bitrate(i) as f64) <= deadline
                })
                .unwrap_or(allowed[0]);
            if v != ctx.current {
                return Some(Decision::new(v, Reason::Emergency));
            }
        }

        // Down at once: the last segment arrived slower than the current bitrate plays, so the
        // network no longer sustains it, whatever the averages still remember.
        if let Some(last) = self.estimator.last() {
            if ctx.buffer < c.down_max_buffer && last < current_bps {
                let v = highest_at_most(ctx, &allowed, last * c.up_factor).unwrap_or(allowed[0]);
                if ctx.bitrate(v) < ctx.bitrate(ctx.current) {
                    return Some(Decision::new(v, Reason::Down));
                }
            }
        }

        // Down: the buffer is not deep enough to ride out a rate the estimate does not sustain.
        if ctx.buffer < c.down_max_buffer
            && current_bps > est * c.down_factor
            && ctx.bitrate(fit) < ctx.bitrate(ctx.current)
        {
            return Some(Decision::new(fit, Reason::Down));
        }

        // Up: only with a comfortable buffer, to the highest bitrate the estimate clears.
        let up_buffer = c
            .up_min_buffer
            .min(ctx.buffer_target.mul_f64(c.up_target_fraction));
        if ctx.buffer >= up_buffer && ctx.bitrate(fit) > ctx.bitrate(ctx.current) {
            return Some(Decision::new(fit, Reason::Up));
        }
        let full = ctx.buffer_target.mul_f64(c.full_fraction);
        if ctx.buffer >= full.max(up_buffer) {
            let fast = self.estimator.fast_estimate().unwrap_or(est);
            let next = allowed
                .iter()
                .copied()
                .find(|&i| ctx.bitrate(i) > ctx.bitrate(ctx.current));
            if let Some(next) = next.filter(|&n| ctx.bitrate(n) as f64 <= fast * c.up_factor) {
                return Some(Decision::new(next, Reason::Up));
            }
        }
        Some(Decision::new(ctx.current, Reason::Hold))
    }

    fn estimate(&self) -> Option<f64> {
        self.estimator.estimate()
    }
}
