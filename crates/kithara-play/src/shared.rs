//! [`Shared`]: the few numbers the control thread, the decoding thread and the audio side share,
//! as atomics, each with one writer.
//!
//! | fact | written by | read by |
//! |---|---|---|
//! | `pushed`: frames ever written into the ring | decoding thread | control |
//! | `consumed`: frames ever taken out of the ring (played or skipped) | audio side | control, decoding |
//! | `skip_until`: frames below this index are stale (before a seek, stop or jump) | decoding thread | audio side |
//! | `epoch_applied`: the last flush the decoding thread carried out | decoding thread | control |
//! | `stream_bytes`: bytes downloaded ahead of the current track's reader (`u64::MAX`: unknown) | decoding thread | control |
//! | `input_done`: nothing more will be written until the next command | decoding thread | audio side, control |
//! | `gate`: whether the audio side plays or waits | control opens, audio side closes on underrun | both |
//! | `paused`, `volume` | control | audio side |
//! | `closed`: the player is shutting down | player | sinks |

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
        Condvar, Mutex, PoisonError,
    },
    time::Duration,
};

use crate::sink::SinkFormat;

/// See the module docs for who writes what.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) format: SinkFormat,
    pub(crate) pushed: AtomicU64,
    pub(crate) consumed: AtomicU64,
    pub(crate) skip_until: AtomicU64,
    pub(crate) epoch_applied: AtomicU64,
    pub(crate) stream_bytes: AtomicU64,
    pub(crate) input_done: AtomicBool,
    /// `true`: the audio side plays.
    pub(crate) gate: AtomicBool,
    pub(crate) paused: AtomicBool,
    /// The target gain, as `f32` bits.
    pub(crate) volume: AtomicU32,
    pub(crate) closed: AtomicBool,
    /// Wakes an offline sink waiting for audio (never used by a real-time sink).
    pub(crate) wake: Wake,
}

impl Shared {
    pub(crate) fn new(format: SinkFormat) -> Self {
        Self {
            format,
            pushed: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            skip_until: AtomicU64::new(0),
            epoch_applied: AtomicU64::new(0),
            stream_bytes: AtomicU64::new(u64::MAX),
            input_done: AtomicBool::new(true),
            gate: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            volume: AtomicU32::new(1.0f32.to_bits()),
            closed: AtomicBool::new(false),
            wake: Wake::default(),
        }
    }

    /// Frames written and not yet consumed, stale ones excluded.
    pub(crate) fn level_frames(&self) -> u64 {
        let pushed = self.pushed.load(Ordering::Acquire);
        let from = self
            .consumed
            .load(Ordering::Acquire)
            .max(self.skip_until.load(Ordering::Acquire));
        pushed.saturating_sub(from)
    }

    /// Bytes downloaded ahead of the current track's reader, when its stream tells.
    pub(crate) fn level_bytes(&self) -> Option<u64> {
        Some(self.stream_bytes.load(Ordering::Acquire)).filter(|&b| b != u64::MAX)
    }

    /// `frames` at the sink's rate as time.
    pub(crate) fn frames_to_time(&self, frames: u64) -> Duration {
        let rate = u64::from(self.format.rate.max(1));
        let nanos = u128::from(frames) * 1_000_000_000 / u128::from(rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Time at the sink's rate as frames (rounded down).
    pub(crate) fn time_to_frames(&self, time: Duration) -> u64 {
        let frames = time.as_nanos() * u128::from(self.format.rate) / 1_000_000_000;
        u64::try_from(frames).unwrap_or(u64::MAX)
    }

    /// Tells a waiting offline sink that something changed.
    pub(crate) fn notify(&self) {
        self.wake.notify();
    }
}

/// A generation counter behind a condvar: the offline sink waits for it to move. Only the
/// non-real-time threads touch it.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Wake {
    pub(crate) fn notify(&self) {
        let mut g = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    /// The current generation.
    pub(crate) fn generation(&self) -> u64 {
        *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the generation differs from `seen` or `timeout` passed.
    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        let g = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .cv
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(PoisonError::into_inner);
    }
}
