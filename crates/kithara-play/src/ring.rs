//! [`Writer`]: the decoding thread's half of the ring. Converted audio waits in `pending` until
//! the ring has room; frames are numbered from the player's start (`pushed`, then `produced`
//! including what waits), and a flush marks everything written so far as stale for the audio
//! side to skip.

use std::sync::{atomic::Ordering, Arc};

use crate::shared::Shared;

#[derive(Debug)]
pub(crate) struct Writer {
    producer: rtrb::Producer<f32>,
    shared: Arc<Shared>,
    channels: usize,
    /// Converted samples not yet in the ring; `sent` of them are.
    pending: Vec<f32>,
    sent: usize,
    /// Frames written into the ring so far (this thread owns `Shared::pushed`).
    pushed: u64,
}

impl Writer {
    pub(crate) fn new(producer: rtrb::Producer<f32>, shared: Arc<Shared>) -> Self {
        Self {
            channels: usize::from(shared.format.channels.max(1)),
            producer,
            shared,
            pending: Vec::new(),
            sent: 0,
            pushed: 0,
        }
    }

    /// The frame index after the last frame produced (written or waiting).
    pub(crate) fn produced(&self) -> u64 {
        self.pushed + ((self.pending.len() - self.sent) / self.channels) as u64
    }

    /// The buffer to append converted samples to.
    pub(crate) fn pending_mut(&mut self) -> &mut Vec<f32> {
        if self.sent == self.pending.len() {
            self.pending.clear();
            self.sent = 0;
        }
        &mut self.pending
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.pending.len() - self.sent >= self.channels
    }

    /// Writes as many whole frames as fit; returns whether everything waiting was written.
    pub(crate) fn write(&mut self) -> bool {
        let waiting = (self.pending.len() - self.sent) / self.channels;
        let room = self.producer.slots() / self.channels;
        let frames = waiting.min(room);
        if frames > 0 {
            let n = frames * self.channels;
            if let Ok(chunk) = self.producer.write_chunk_uninit(n) {
                let src = &self.pending[self.sent..self.sent + n];
                let written = chunk.fill_from_iter(src.iter().copied());
                self.sent += written;
                self.pushed += (written / self.channels) as u64;
                self.shared.pushed.store(self.pushed, Ordering::Release);
                self.shared.notify();
            }
        }
        !self.has_pending()
    }

    /// Drops what waits and marks what the ring holds as stale; records `epoch` as carried out.
    pub(crate) fn flush(&mut self, epoch: u64) {
        self.pending.clear();
        self.sent = 0;
        self.shared.skip_until.store(self.pushed, Ordering::Release);
        self.shared.epoch_applied.store(epoch, Ordering::Release);
        self.shared.notify();
    }
}
