//! A plain throughput rule, for comparison: the highest variant whose bitrate fits in the
//! throughput of the last segment, whatever the buffer holds.

use std::time::Duration;

use super::{
    common, highest_at_most, AbrContext, AbrPolicy, BandwidthEstimator, Decision, EstimatorConfig,
    Reason,
};

/// The classic rate-based rule: last segment's throughput times a safety factor (0.9), no
/// smoothing, no buffer awareness. Kept as the baseline of the ABR simulation.
#[derive(Debug, Clone)]
pub struct ThroughputRule {
    estimator: BandwidthEstimator,
    safety: f64,
    initial_estimate: u64,
}

impl ThroughputRule {
    /// The rule with safety factor 0.9 and an initial estimate of 500 kbit/s.
    pub fn new() -> Self {
        Self::with_config(EstimatorConfig::default(), 500_000)
    }

    /// The rule with safety factor 0.9, `estimator` settings and `initial_estimate` bits per
    /// second assumed before the first transfer.
    pub fn with_config(estimator: EstimatorConfig, initial_estimate: u64) -> Self {
        Self {
            estimator: BandwidthEstimator::new(estimator),
            safety: 0.9,
            initial_estimate,
        }
    }
}

impl Default for ThroughputRule {
    fn default() -> Self {
        Self::new()
    }
}

impl AbrPolicy for ThroughputRule {
    fn on_transfer(&mut self, bytes: u64, elapsed: Duration) {
        self.estimator.sample(bytes, elapsed);
    }

    fn decide(&mut self, ctx: &AbrContext<'_>) -> Option<Decision> {
        let est = self
            .estimator
            .last()
            .unwrap_or(self.initial_estimate as f64);
        let allowed = match common(ctx, est * self.safety) {
            Ok(decision) => return decision,
            Err(allowed) => allowed,
        };
        let v = highest_at_most(ctx, &allowed, est * self.safety).unwrap_or(allowed[0]);
        let reason = match (
            self.estimator.last(),
            ctx.bitrate(v).cmp(&ctx.bitrate(ctx.current)),
        ) {
            (None, _) if v != ctx.current => Reason::Initial,
            (_, std::cmp::Ordering::Greater) => Reason::Up,
            (_, std::cmp::Ordering::Less) => Reason::Down,
            _ => Reason::Hold,
        };
        Some(Decision::new(v, reason))
    }

    fn estimate(&self) -> Option<f64> {
        self.estimator.last()
    }
}
