//! The player as a [`rodio::Source`]: [`rodio_source`] makes a [`RodioSink`] to start the player
//! on and the [`RodioSource`] to hand to rodio (`mixer.add(source)`). rodio's audio thread pulls
//! the samples: each pull renders a block with [`Output::render`], so it never blocks on the
//! network, allocates or locks; decoding runs on the player's own thread.

use std::time::Duration;

use super::{AudioSink, RunningSink, SinkFormat};
use crate::{Output, Result};

/// Frames rendered per block.
const BLOCK: usize = 512;

/// Makes the two halves: start a [`Player`](crate::Player) on the sink, give the source to
/// rodio. The source plays silence until the player starts, and ends once the player is closed.
pub fn rodio_source(format: SinkFormat) -> (RodioSink, RodioSource) {
    let (tx, rx) = rtrb::RingBuffer::new(1);
    let channels = usize::from(format.channels.max(1));
    let sink = RodioSink { format, tx };
    let source = RodioSource {
        format,
        rx,
        output: None,
        buf: vec![0.0; BLOCK * channels],
        pos: BLOCK * channels,
    };
    (sink, source)
}

/// The player's half: its [`AudioSink::start`] hands the ring to the [`RodioSource`] (through a
/// one-slot wait-free ring).
#[derive(Debug)]
pub struct RodioSink {
    format: SinkFormat,
    tx: rtrb::Producer<Output>,
}

impl AudioSink for RodioSink {
    fn format(&self) -> SinkFormat {
        self.format
    }

    fn start(mut self: Box<Self>, output: Output) -> Result<Box<dyn RunningSink>> {
        // The slot is free: a sink starts once.
        let _ = self.tx.push(output);
        Ok(Box::new(RunningRodio))
    }
}

struct RunningRodio;

impl RunningSink for RunningRodio {
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// rodio's half: an endless `f32` source in the sink's format, until the player is closed.
#[derive(Debug)]
pub struct RodioSource {
    format: SinkFormat,
    rx: rtrb::Consumer<Output>,
    output: Option<Output>,
    buf: Vec<f32>,
    pos: usize,
}

impl Iterator for RodioSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.pos == self.buf.len() {
            if self.output.is_none() {
                self.output = self.rx.pop().ok();
            }
            match &mut self.output {
                Some(output) if output.is_closed() => return None,
                Some(output) => {
                    output.render(&mut self.buf);
                }
                // Never started and never will be: end.
                None if self.rx.is_abandoned() => return None,
                None => self.buf.fill(0.0),
            }
            self.pos = 0;
        }
        let s = self.buf.get(self.pos).copied();
        self.pos += 1;
        s
    }
}

impl rodio::Source for RodioSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        self.format.channels
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        self.format.rate
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}
