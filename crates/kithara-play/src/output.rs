//! [`Output`]: the audio side of the ring. A sink calls [`Output::render`] from its real-time
//! callback, or [`Output::render_blocking`] from an offline writer.
//!
//! Real-time safety of [`Output::render`]: it reads and writes atomics, reads from the `rtrb`
//! ring (wait-free), multiplies and copies into the caller's buffer. It allocates nothing (the
//! ring and the struct are allocated when the player starts), takes no lock, makes no system call
//! and never waits: what is missing is written as silence. Everything that may block (decoding,
//! the network, events, the condvar of offline sinks) lives on the player's other threads.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use crate::{shared::Shared, sink::SinkFormat};

/// The consuming half of the player's ring, handed to an [`AudioSink`](crate::AudioSink) when
/// the player starts.
#[derive(Debug)]
pub struct Output {
    consumer: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    channels: usize,
    /// Frames taken out of the ring so far (the audio side owns `Shared::consumed`).
    consumed: u64,
    /// The gain applied now; ramps towards the target by `step` per frame.
    gain: f32,
    step: f32,
}

impl Output {
    pub(crate) fn new(consumer: rtrb::Consumer<f32>, shared: Arc<Shared>, ramp: Duration) -> Self {
        let channels = usize::from(shared.format.channels.max(1));
        let ramp_frames = shared.time_to_frames(ramp).max(1);
        Self {
            consumer,
            channels,
            consumed: 0,
            gain: f32::from_bits(shared.volume.load(Ordering::Relaxed)),
            step: 1.0 / ramp_frames as f32,
            shared,
        }
    }

    /// The format the ring carries (the sink's own).
    pub fn format(&self) -> SinkFormat {
        self.shared.format
    }

    /// Whether the player has been closed: a sink's thread ends when it sees this.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Real-time render: fills `out` (interleaved, the sink's channels) and returns how many
    /// frames came from the ring; the rest is silence (paused, buffering, stopped or an underrun).
    /// Never blocks, allocates or locks (see the module docs). An underrun while playing closes
    /// the gate: silence follows until the player has refilled its start buffer.
    pub fn render(&mut self, out: &mut [f32]) -> usize {
        let frames = out.len() / self.channels;
        self.skip_stale();
        let mut taken = 0;
        if self.shared.gate.load(Ordering::Acquire) {
            let paused = self.shared.paused.load(Ordering::Relaxed);
            if !(paused && self.gain == 0.0) {
                taken = self.take(&mut out[..frames * self.channels]);
                let done = self.shared.input_done.load(Ordering::Acquire);
                if taken < frames && !paused && !done {
                    // Underrun: the gate closes; the control thread reopens it once the start
                    // buffer is refilled (so an underrun never repeats in a loop).
                    self.shared.gate.store(false, Ordering::Release);
                }
            }
        }
        out[taken * self.channels..].fill(0.0);
        taken
    }

    /// Offline render: waits until the ring holds audio (or the player is paused and the ramp
    /// is done: then it waits for the resume) and fills up to `out.len()` samples. Returns the
    /// frames written, `None` once the player is closed. Ignores the start buffer: an offline
    /// sink takes audio as fast as it is decoded and never inserts silence.
    pub fn render_blocking(&mut self, out: &mut [f32]) -> Option<usize> {
        loop {
            if self.is_closed() {
                return None;
            }
            let seen = self.shared.wake.generation();
            self.skip_stale();
            let paused = self.shared.paused.load(Ordering::Relaxed);
            if !(paused && self.gain == 0.0) {
                let frames = out.len() / self.channels;
                let n = self.take(&mut out[..frames * self.channels]);
                if n > 0 {
                    return Some(n);
                }
            }
            // The decoding thread notifies after every write, the control thread on resume and
            // close; the timeout is a safety net, not the mechanism.
            self.shared.wake.wait(seen, Duration::from_millis(100));
        }
    }

    /// Drops the frames written before the last flush (seek, stop, jump).
    fn skip_stale(&mut self) {
        let until = self.shared.skip_until.load(Ordering::Acquire);
        if self.consumed >= until {
            return;
        }
        let avail = (self.consumer.slots() / self.channels) as u64;
        let n = avail.min(until - self.consumed);
        if n == 0 {
            return;
        }
        // n ≤ slots / channels, so the chunk exists.
        if let Ok(chunk) = self.consumer.read_chunk(n as usize * self.channels) {
            chunk.commit_all();
            self.consumed += n;
            self.shared.consumed.store(self.consumed, Ordering::Release);
        }
    }

    /// Copies up to `out.len() / channels` frames from the ring into `out` with the gain ramp;
    /// returns the frames copied.
    fn take(&mut self, out: &mut [f32]) -> usize {
        let frames = (self.consumer.slots() / self.channels).min(out.len() / self.channels);
        if frames == 0 {
            return 0;
        }
        let Ok(chunk) = self.consumer.read_chunk(frames * self.channels) else {
            return 0;
        };
        let paused = self.shared.paused.load(Ordering::Relaxed);
        let target = if paused {
            0.0
        } else {
            f32::from_bits(self.shared.volume.load(Ordering::Relaxed))
        };
        let (a, b) = chunk.as_slices();
        let mut i = 0;
        for frame in a
            .chunks_exact(self.channels)
            .chain(b.chunks_exact(self.channels))
        {
            if paused && self.gain == 0.0 {
                // The pause ramp is done: the rest stays in the ring for the resume.
                break;
            }
            self.gain = ramp(self.gain, target, self.step);
            for (o, s) in out[i..i + self.channels].iter_mut().zip(frame) {
                *o = s * self.gain;
            }
            i += self.channels;
        }
        chunk.commit(i);
        let frames = i / self.channels;
        self.consumed += frames as u64;
        self.shared.consumed.store(self.consumed, Ordering::Release);
        frames
    }
}

/// One step of a linear ramp from `gain` towards `target`.
fn ramp(gain: f32, target: f32, step: f32) -> f32 {
    if (target - gain).abs() <= step {
        target
    } else if target > gain {
        gain + step
    } else {
        gain - step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_reaches_the_target_exactly() {
        let mut g = 0.0;
        for _ in 0..11 {
            g = ramp(g, 1.0, 0.1);
        }
        assert_eq!(g, 1.0);
        assert_eq!(ramp(0.95, 1.0, 0.1), 1.0);
        assert_eq!(ramp(0.5, 0.0, 0.1), 0.4);
    }
}
