//! Adaptive bitrate: which variant the next segment not yet laid out comes from.
//!
//! A policy ([`AbrPolicy`]) is fed the transfers of segments and asked, once per segment, for a
//! [`Decision`] given an [`AbrContext`]: the variant ladder, the buffer level, the current
//! variant, the mode (auto or fixed), a bitrate cap and the variants excluded after failures.
//! [`BufferRule`] is kithara's rule; [`ThroughputRule`] is a plain rate rule kept for comparison
//! (see [`sim`]). [`Exclusions`] keeps failed variants out for a while and picks the failover.

mod estimator;
mod exclusion;
mod rule;
pub mod sim;
mod throughput;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kithara_stream::dl::ThroughputSample;
use kithara_stream::AbrMode;

pub use estimator::{BandwidthEstimator, EstimatorConfig};
pub use exclusion::{ExclusionConfig, Exclusions};
pub use rule::{BufferRule, BufferRuleConfig};
pub use throughput::ThroughputRule;

/// What a policy knows when it chooses the variant of the next segment.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AbrContext<'a> {
    /// Bitrate of each variant in bits per second, by variant index (any order).
    pub ladder: &'a [u64],
    /// Seconds of media buffered ahead of the reader.
    pub buffer: Duration,
    /// The most the buffer can hold: the buffer-ahead target, or less near a live edge.
    /// [`AbrContext::new`] sets 30 s.
    pub buffer_target: Duration,
    /// Duration of the segment being chosen.
    pub segment: Duration,
    /// The variant of the previous segment.
    pub current: usize,
    /// Automatic, or locked on one variant.
    pub mode: AbrMode,
    /// Highest bitrate allowed, in bits per second.
    pub max_bitrate: Option<u64>,
    /// Variants that must not be chosen (by index; shorter than the ladder means "not excluded").
    pub excluded: &'a [bool],
}

impl<'a> AbrContext<'a> {
    /// A context in automatic mode with nothing excluded and no cap.
    pub fn new(ladder: &'a [u64], current: usize, buffer: Duration, segment: Duration) -> Self {
        Self {
            ladder,
            buffer,
            buffer_target: Duration::from_secs(30),
            segment,
            current,
            mode: AbrMode::Auto,
            max_bitrate: None,
            excluded: &[],
        }
    }

    /// Sets the buffer target.
    #[must_use]
    pub fn buffer_target(mut self, target: Duration) -> Self {
        self.buffer_target = target;
        self
    }

    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: AbrMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the bitrate cap, in bits per second.
    #[must_use]
    pub fn max_bitrate(mut self, cap: Option<u64>) -> Self {
        self.max_bitrate = cap;
        self
    }

    /// Sets the excluded variants.
    #[must_use]
    pub fn excluded(mut self, excluded: &'a [bool]) -> Self {
        self.excluded = excluded;
        self
    }

    fn is_excluded(&self, i: usize) -> bool {
        self.excluded.get(i).copied().unwrap_or(false)
    }

    /// Variants that may be chosen, by ascending bitrate: not excluded and under the cap. When the
    /// cap leaves none, the lowest non-excluded variant; when everything is excluded, none.
    pub fn allowed(&self) -> Vec<usize> {
        let mut open: Vec<usize> = (0..self.ladder.len())
            .filter(|&i| !self.is_excluded(i))
            .collect();
        open.sort_by_key(|&i| (self.ladder[i], i));
        let capped: Vec<usize> = match self.max_bitrate {
            Some(cap) => open
                .iter()
                .copied()
                .filter(|&i| self.ladder[i] <= cap)
                .collect(),
            None => open.clone(),
        };
        if capped.is_empty() {
            open.into_iter().take(1).collect()
        } else {
            capped
        }
    }

    fn bitrate(&self, i: usize) -> u64 {
        self.ladder.get(i).copied().unwrap_or(0)
    }
}

/// Why a variant was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No transfer measured yet: chosen from the initial estimate.
    Initial,
    /// Unchanged.
    Hold,
    /// Up: the buffer is comfortable and the estimate clears the higher bitrate.
    Up,
    /// Down: the buffer runs low and the estimate does not sustain the current bitrate.
    Down,
    /// Down at once: the next segment would not arrive before the buffer runs dry.
    Emergency,
    /// `AbrMode::Fixed`.
    Manual,
    /// The current variant is excluded after a failure.
    Failover,
    /// The bitrate cap rules the current variant out.
    Cap,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initial => "initial",
            Self::Hold => "hold",
            Self::Up => "up",
            Self::Down => "down",
            Self::Emergency => "emergency",
            Self::Manual => "manual",
            Self::Failover => "failover",
            Self::Cap => "cap",
        })
    }
}

/// The variant for the next segment, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// Variant index.
    pub variant: usize,
    /// Why it was chosen.
    pub reason: Reason,
}

impl Decision {
    /// A decision.
    pub fn new(variant: usize, reason: Reason) -> Self {
        Self { variant, reason }
    }

    /// Whether it changes the variant from `current`.
    pub fn is_switch(&self, current: usize) -> bool {
        self.variant != current
    }
}

/// A bitrate policy: fed segment transfers, asked for the variant of each next segment.
pub trait AbrPolicy: Send + fmt::Debug {
    /// Records one segment transfer of `bytes` that took `elapsed` (request sent to last byte).
    /// Only segment transfers belong here, not playlists or keys.
    fn on_transfer(&mut self, bytes: u64, elapsed: Duration);

    /// Records a downloader sample of a segment transfer.
    fn on_sample(&mut self, sample: &ThroughputSample) {
        self.on_transfer(sample.bytes, sample.elapsed);
    }

    /// The variant of the next segment not yet laid out. `None` when every variant is excluded.
    fn decide(&mut self, ctx: &AbrContext<'_>) -> Option<Decision>;

    /// The current throughput estimate in bits per second, if any.
    fn estimate(&self) -> Option<f64>;
}

/// Makes the [`AbrPolicy`] of each stream opened with a configuration (see
/// [`HlsConfig::abr_policy`](crate::HlsConfig::abr_policy)): one fresh policy per stream, so a
/// cloned configuration never shares a policy's state between streams.
#[derive(Clone)]
pub struct AbrPolicyFactory(Arc<dyn Fn() -> Box<dyn AbrPolicy> + Send + Sync>);

impl AbrPolicyFactory {
    /// A factory calling `make` for every stream opened.
    pub fn new(make: impl Fn() -> Box<dyn AbrPolicy> + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }

    /// A new policy.
    pub fn make(&self) -> Box<dyn AbrPolicy> {
        (self.0)()
    }
}

impl fmt::Debug for AbrPolicyFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbrPolicyFactory").finish_non_exhaustive()
    }
}

/// Decisions every policy makes the same way, before its own rule: a fixed mode, and a current
/// variant that is excluded or over the cap. `Err` carries the allowed variants otherwise.
fn common(ctx: &AbrContext<'_>, fallback_bps: f64) -> Result<Option<Decision>, Vec<usize>> {
    let allowed = ctx.allowed();
    if allowed.is_empty() {
        return Ok(None);
    }
    if let AbrMode::Fixed(i) = ctx.mode {
        if i < ctx.ladder.len() && !ctx.is_excluded(i) {
            return Ok(Some(Decision::new(i, Reason::Manual)));
        }
        // The locked variant failed (or does not exist): the nearest allowed one.
        let target = ctx.bitrate(i.min(ctx.ladder.len().saturating_sub(1)));
        let v = highest_at_most(ctx, &allowed, target as f64).unwrap_or(allowed[0]);
        return Ok(Some(Decision::new(v, Reason::Failover)));
    }
    if !allowed.contains(&ctx.current) {
        let reason = if ctx.is_excluded(ctx.current) {
            Reason::Failover
        } else {
            Reason::Cap
        };
        // Not above the variant we leave, and sustainable if the estimate says so.
        let limit = (ctx.bitrate(ctx.current) as f64).min(fallback_bps.max(0.0));
        let v = highest_at_most(ctx, &allowed, limit).unwrap_or(allowed[0]);
        return Ok(Some(Decision::new(v, reason)));
    }
    Err(allowed)
}

/// The highest allowed variant whose bitrate is at most `bps`.
fn highest_at_most(ctx: &AbrContext<'_>, allowed: &[usize], bps: f64) -> Option<usize> {
    allowed
        .iter()
        .rev()
        .copied()
        .find(|&i| ctx.bitrate(i) as f64 <= bps)
}

#[cfg(test)]
mod tests;
