//! The player of the ABR replay: reads a `Stream<Hls>` at K× the media rate and accounts the time
//! it waits for bytes (rebuffering), in media seconds.
//!
//! A stall starts when a read blocks past the media read (a player thread that merely runs late,
//! from scheduling, catches up with the media read and skips the rest instead, so a busy machine
//! does not show up as rebuffering) and lasts until [`LEAD`] of media is read ahead again, the
//! condition playback starts on.

use std::{
    io::Read,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use kithara_hls::Hls;
use kithara_stream::Stream;

/// Media read ahead of the playback position before the player waits for its clock.
const LEAD: f64 = 0.5;

/// Bytes asked for by one read (a fraction of a second of the fixture's audio).
const READ: usize = 1024;

/// How long the player sleeps when it is ahead of its clock.
const TICK: Duration = Duration::from_millis(2);

/// A read returning sooner than this found its bytes there: no stall.
const BLOCKED: Duration = Duration::from_millis(2);

/// Playback-position samples, in media seconds.
const SAMPLE_EVERY: f64 = 0.25;

/// The playback clock: media time advances at the clock's rate while there is media to play.
/// When a read blocks past the media read, the player stalls; it resumes once [`LEAD`] of media
/// is read ahead again (the condition it starts on), and everything in between is the stall.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Clock {
    /// Media played, seconds.
    pub(super) pos: f64,
    /// Total stalled media time, seconds.
    pub(super) rebuffer: f64,
    /// Longest single stall, seconds.
    pub(super) longest: f64,
    /// The stall in progress, seconds.
    current: f64,
    /// Whether a stall is in progress.
    stalled: bool,
}

impl Clock {
    /// `want` media seconds passed blocked in a read; `have` seconds were read before it.
    pub(super) fn blocked(&mut self, want: f64, have: f64) {
        if self.stalled {
            self.stall(want);
            return;
        }
        let can = (have - self.pos).max(0.0);
        if want <= can {
            self.pos += want;
        } else {
            self.pos = self.pos.max(have);
            self.stalled = true;
            self.stall(want - can);
        }
    }

    /// `want` media seconds passed outside a blocking read; `have` seconds are read. Playing,
    /// the player was late, not starved: it plays what it can of `have` and drops the rest.
    /// Stalled, the time is part of the stall.
    pub(super) fn late(&mut self, want: f64, have: f64) {
        if self.stalled {
            self.stall(want);
        } else {
            self.pos = (self.pos + want).min(have.max(self.pos));
        }
    }

    /// Ends a stall once `have` is [`LEAD`] ahead of the position.
    pub(super) fn resume(&mut self, have: f64) {
        if self.stalled && have - self.pos >= LEAD {
            self.stalled = false;
            self.end_stall();
        }
    }

    fn stall(&mut self, secs: f64) {
        self.rebuffer += secs;
        self.current += secs;
    }

    /// Closes the stall in progress, if any.
    pub(super) fn end_stall(&mut self) {
        self.stalled = false;
        self.longest = self.longest.max(self.current);
        self.current = 0.0;
    }
}

/// What one playback measured.
#[derive(Debug, Clone)]
pub(super) struct Played {
    /// Wall time from the open to the start of playback, times K (media seconds).
    pub(super) startup: f64,
    /// The clock at the end.
    pub(super) clock: Clock,
    /// `(media seconds since the open, playback position)` samples.
    pub(super) positions: Vec<(f64, f64)>,
}

/// Plays `stream` to its end at `k`× the media rate; `opened` is when the open started.
pub(super) fn play(stream: &mut Stream<Hls>, k: f64, opened: Instant) -> Result<Played> {
    let mut buf = vec![0u8; READ];
    let mut have = 0.0f64;
    let mut clock = Clock::default();
    let mut started: Option<Instant> = None;
    let mut startup = 0.0;
    let mut last = Instant::now();
    let mut positions = Vec::new();
    let mut next_sample = 0.0;
    loop {
        let before = have;
        let playing = started.is_some();
        if have < clock.pos + LEAD {
            let asked = Instant::now();
            if playing {
                clock.late((asked - last).as_secs_f64() * k, before);
            }
            let n = stream
                .read(&mut buf)
                .with_context(|| format!("read at media time {have:.2} s"))?;
            if n == 0 {
                clock.end_stall();
                break;
            }
            have = stream
                .time_position()
                .map_or(have, |t| t.as_secs_f64())
                .max(have);
            let now = Instant::now();
            let blocked = now - asked;
            if playing {
                if blocked >= BLOCKED {
                    clock.blocked(blocked.as_secs_f64() * k, before);
                } else {
                    clock.late(blocked.as_secs_f64() * k, before);
                }
                clock.resume(have);
            }
            last = now;
        } else {
            std::thread::sleep(TICK);
            let now = Instant::now();
            if playing {
                clock.late((now - last).as_secs_f64() * k, have);
            }
            last = now;
        }
        if !playing {
            // Playback starts once the lead is read.
            if have >= LEAD {
                started = Some(last);
                startup = (last - opened).as_secs_f64() * k;
            }
            continue;
        }
        if clock.pos >= next_sample {
            positions.push(((last - opened).as_secs_f64() * k, clock.pos));
            next_sample = clock.pos + SAMPLE_EVERY;
        }
    }
    Ok(Played {
        startup,
        clock,
        positions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_lasts_until_the_lead_is_read_again() {
        let mut c = Clock::default();
        c.blocked(1.0, 2.0);
        assert_eq!((c.pos, c.rebuffer), (1.0, 0.0));
        // 1.5 s blocked with 0.5 s left: a stall of 1 s.
        c.blocked(1.5, 1.5);
        assert_eq!((c.pos, c.rebuffer), (1.5, 1.0));
        // A trickle does not end it: the stall goes on until the lead is there.
        c.resume(1.7);
        c.late(0.25, 1.7);
        c.blocked(0.25, 1.7);
        assert_eq!((c.pos, c.rebuffer, c.longest), (1.5, 1.5, 0.0));
        c.resume(2.0);
        assert_eq!((c.pos, c.longest), (1.5, 1.5));
        c.blocked(0.25, 2.0);
        assert_eq!((c.pos, c.rebuffer), (1.75, 1.5));
        c.blocked(0.5, 2.0);
        c.end_stall();
        assert_eq!((c.rebuffer, c.longest), (1.75, 1.5));
    }

    #[test]
    fn a_late_player_is_not_a_stall() {
        let mut c = Clock::default();
        // Overslept by 2 s with 1 s read: it plays that second and drops the rest.
        c.late(3.0, 1.0);
        assert_eq!((c.pos, c.rebuffer), (1.0, 0.0));
        // Nothing more read: no move, no stall.
        c.late(1.0, 1.0);
        assert_eq!((c.pos, c.rebuffer), (1.0, 0.0));
    }
}
