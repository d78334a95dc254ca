//! The player of the ABR replay: reads a `Stream<Hls>` at K× the media rate and accounts the time
//! it waits for bytes (rebuffering), in media seconds.
//!
//! Only time spent blocked in a read counts as a stall: when the player's own thread runs late
//! (scheduling), its clock catches up with the media already read and skips the rest, so a busy
//! machine does not show up as rebuffering.

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

/// The playback clock: media time advances at the clock's rate while there is media to play;
/// what the clock wants beyond the media read is a stall.
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
}

impl Clock {
    /// The clock wants `want` media seconds more; `have` media seconds were readable before.
    pub(super) fn advance(&mut self, want: f64, have: f64) {
        let can = (have - self.pos).max(0.0);
        if want <= can {
            self.pos += want;
            self.end_stall();
        } else {
            self.pos = self.pos.max(have);
            self.rebuffer += want - can;
            self.current += want - can;
        }
    }

    /// The clock wants `want` media seconds more but the player was late, not starved: it plays
    /// what it can of the `have` seconds read and drops the rest.
    pub(super) fn catch_up(&mut self, want: f64, have: f64) {
        if have > self.pos {
            self.end_stall();
            self.pos = (self.pos + want).min(have);
        }
    }

    /// Closes the stall in progress, if any.
    pub(super) fn end_stall(&mut self) {
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
                clock.catch_up((asked - last).as_secs_f64() * k, before);
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
                    clock.advance(blocked.as_secs_f64() * k, before);
                } else {
                    clock.catch_up(blocked.as_secs_f64() * k, before);
                }
            }
            last = now;
        } else {
            std::thread::sleep(TICK);
            let now = Instant::now();
            if playing {
                clock.catch_up((now - last).as_secs_f64() * k, have);
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
    fn the_clock_counts_only_what_it_could_not_play() {
        let mut c = Clock::default();
        c.advance(1.0, 2.0);
        assert_eq!((c.pos, c.rebuffer), (1.0, 0.0));
        // 1.5 s wanted, 0.5 s left: a stall of 1 s that goes on.
        c.advance(1.5, 1.5);
        assert_eq!((c.pos, c.rebuffer), (1.5, 1.0));
        c.advance(0.5, 1.5);
        assert_eq!((c.pos, c.rebuffer, c.longest), (1.5, 1.5, 0.0));
        // Media again: the stall ends, 1.5 s long.
        c.advance(0.25, 3.0);
        assert_eq!((c.pos, c.longest), (1.75, 1.5));
        c.advance(2.0, 3.0);
        c.end_stall();
        assert_eq!((c.rebuffer, c.longest), (2.25, 1.5));
    }

    #[test]
    fn a_late_player_is_not_a_stall() {
        let mut c = Clock::default();
        // Overslept by 2 s with 1 s read: it plays that second and drops the rest.
        c.catch_up(3.0, 1.0);
        assert_eq!((c.pos, c.rebuffer), (1.0, 0.0));
        // Nothing more read: no move, no stall.
        c.catch_up(1.0, 1.0);
        assert_eq!((c.pos, c.rebuffer), (1.0, 0.0));
        // A stall in progress ends once there is media again.
        c.advance(0.5, 1.0);
        c.catch_up(0.1, 2.0);
        assert_eq!((c.rebuffer, c.longest), (0.5, 0.5));
        assert!((c.pos - 1.1).abs() < 1e-9);
    }
}
