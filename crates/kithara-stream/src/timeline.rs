//! Position bookkeeping shared by the reader, its peer, the player and ABR.
//!
//! A [`Timeline`] is a cheap handle (an `Arc` inside) and the one owner of where the reader is:
//! its byte position and its seek epoch (incremented by every seek, so stale work can be
//! recognised), plus the media duration once a source knows it. Every change is also published on
//! the timeline's [`SharedHooks`], which is how a peer learns of it without polling: the reader
//! never calls the peer. Lengths are not kept here: storage owns them.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use crate::{
    boundary::TimeMap,
    hooks::{ReaderSeek, SharedHooks},
};

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

#[derive(Debug, Default)]
struct Inner {
    pos: AtomicU64,
    epoch: AtomicU64,
    duration: Mutex<Option<Duration>>,
    time_map: Mutex<Option<Arc<dyn TimeMap>>>,
    hooks: SharedHooks,
}

impl Timeline {
    /// A timeline at byte 0, epoch 0, duration unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reader's current byte position.
    pub fn position(&self) -> u64 {
        self.inner.pos.load(Ordering::Acquire)
    }

    /// Number of seeks so far.
    pub fn seek_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Records that the reader consumed `len` bytes from `pos` (within the current epoch), moving
    /// its position past them, and publishes the read on [`DecoderHooks::chunk`](crate::DecoderHooks::chunk).
    pub fn advance(&self, pos: u64, len: u64) {
        let end = pos.saturating_add(len);
        self.inner.pos.store(end, Ordering::Release);
        self.inner.hooks.chunk.publish(ChunkPosition {
            pos,
            len,
            epoch: self.seek_epoch(),
        });
    }

    /// Records a seek of the reader to `pos`, publishes it on
    /// [`DecoderHooks::seek`](crate::DecoderHooks::seek) and returns the new seek epoch.
    pub fn seek(&self, pos: u64) -> u64 {
        self.inner.pos.store(pos, Ordering::Release);
        let epoch = self.inner.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.inner.hooks.seek.publish(ReaderSeek { pos, epoch });
        epoch
    }

    /// The signals on which every read and seek is published.
    pub fn hooks(&self) -> &SharedHooks {
        &self.inner.hooks
    }

    /// Media duration, once known.
    pub fn duration(&self) -> Option<Duration> {
        *self
            .inner
            .duration
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Records the media duration (for HLS VOD, the sum of `EXTINF`).
    pub fn set_duration(&self, duration: Duration) {
        *self
            .inner
            .duration
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(duration);
    }

    /// Installs the protocol's byte↔time map.
    pub fn set_time_map(&self, map: Arc<dyn TimeMap>) {
        *self
            .inner
            .time_map
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(map);
    }

    /// Whether the protocol maps bytes to time (segmented media): its duration and seeks by time
    /// are then the stream's, not what one container in it declares.
    pub fn maps_time(&self) -> bool {
        self.time_map().is_some()
    }

    fn time_map(&self) -> Option<Arc<dyn TimeMap>> {
        self.inner
            .time_map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Media time at byte `pos`, if the protocol maps it.
    pub fn time_at(&self, pos: u64) -> Option<Duration> {
        self.time_map()?.time_at(pos)
    }

    /// Byte where media time `t` is, if the protocol maps it.
    pub fn byte_at(&self, t: Duration) -> Option<u64> {
        self.time_map()?.byte_at(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::SignalCursor;

    #[test]
    fn reads_and_seeks_are_kept_once_and_published() {
        let t = Timeline::new();
        let other = t.clone();
        let mut chunks = SignalCursor::default();
        let mut seeks = SignalCursor::default();
        t.advance(0, 100);
        assert_eq!(other.position(), 100);
        assert_eq!(
            other.hooks().chunk.take_new(&mut chunks),
            Some(ChunkPosition {
                pos: 0,
                len: 100,
                epoch: 0
            })
        );
        assert_eq!(t.seek(5000), 1);
        assert_eq!(other.position(), 5000);
        assert_eq!(other.seek_epoch(), 1);
        assert_eq!(
            other.hooks().seek.take_new(&mut seeks),
            Some(ReaderSeek {
                pos: 5000,
                epoch: 1
            })
        );
        t.advance(5000, 10);
        assert_eq!(other.hooks().chunk.latest().map(|c| c.epoch), Some(1));
        t.set_duration(Duration::from_secs(10));
        assert_eq!(other.duration(), Some(Duration::from_secs(10)));
    }
}
