//! Position bookkeeping shared by the reader, its peer, the player and ABR.
//!
//! A [`Timeline`] is a cheap handle (an `Arc` inside) holding the reader's byte position, its seek
//! epoch (incremented by every seek, so stale work can be recognised), the total length once known,
//! and, when a source knows the media duration, the mapping between bytes and time.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

const UNKNOWN: u64 = u64::MAX;

/// One stretch of bytes the reader consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkPosition {
    /// Offset of the first byte read.
    pub pos: u64,
    /// Number of bytes read.
    pub len: u64,
    /// Seek epoch the read belongs to.
    pub epoch: u64,
}

impl ChunkPosition {
    /// Offset just past the chunk.
    pub fn end(&self) -> u64 {
        self.pos.saturating_add(self.len)
    }
}

/// Shared position bookkeeping of one stream. Cloning gives another handle to the same state.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pos: AtomicU64,
    epoch: AtomicU64,
    len: AtomicU64,
    duration: Mutex<Option<Duration>>,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            pos: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            len: AtomicU64::new(UNKNOWN),
            duration: Mutex::new(None),
        }
    }
}

impl Timeline {
    /// A timeline at byte 0, epoch 0, length and duration unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reader's current byte position.
    pub fn position(&self) -> u64 {
        self.inner.pos.load(Ordering::Acquire)
    }

    /// Records that the reader advanced to `pos` (within the current epoch).
    pub fn set_position(&self, pos: u64) {
        self.inner.pos.store(pos, Ordering::Release);
    }

    /// Records a seek to `pos` and returns the new seek epoch.
    pub fn begin_seek(&self, pos: u64) -> u64 {
        self.inner.pos.store(pos, Ordering::Release);
        self.inner.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Number of seeks so far.
    pub fn seek_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Total length in bytes, once known.
    pub fn total_len(&self) -> Option<u64> {
        match self.inner.len.load(Ordering::Acquire) {
            UNKNOWN => None,
            n => Some(n),
        }
    }

    /// Records the total length in bytes.
    pub fn set_total_len(&self, len: u64) {
        self.inner
            .len
            .store(len.min(UNKNOWN - 1), Ordering::Release);
    }

    /// Media duration, once known.
    pub fn duration(&self) -> Option<Duration> {
        *self
            .inner
            .duration
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Records the media duration.
    pub fn set_duration(&self, duration: Duration) {
        *self
            .inner
            .duration
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(duration);
    }

    /// Approximate playback time at byte `pos`, assuming a constant byte rate (needs length and duration).
    pub fn time_at(&self, pos: u64) -> Option<Duration> {
        let (len, dur) = (self.total_len()?, self.duration()?);
        if len == 0 {
            return Some(Duration::ZERO);
        }
        let frac = pos.min(len) as f64 / len as f64;
        Some(dur.mul_f64(frac))
    }

    /// Approximate byte offset of playback time `t`, assuming a constant byte rate (needs length and duration).
    pub fn byte_at(&self, t: Duration) -> Option<u64> {
        let (len, dur) = (self.total_len()?, self.duration()?);
        if dur.is_zero() {
            return Some(0);
        }
        let frac = (t.as_secs_f64() / dur.as_secs_f64()).clamp(0.0, 1.0);
        Some((len as f64 * frac) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping() {
        let t = Timeline::new();
        let other = t.clone();
        assert_eq!(t.total_len(), None);
        assert_eq!(t.begin_seek(100), 1);
        assert_eq!(other.position(), 100);
        assert_eq!(other.seek_epoch(), 1);
        t.set_total_len(1000);
        t.set_duration(Duration::from_secs(10));
        assert_eq!(t.time_at(500), Some(Duration::from_secs(5)));
        assert_eq!(t.byte_at(Duration::from_secs(20)), Some(1000));
    }
}
