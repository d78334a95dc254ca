//! When a live playlist is reloaded: every target duration, half of it after an unchanged reload.

use std::time::{Duration, Instant};

/// The reload schedule of the playlist being played.
#[derive(Debug, Default)]
pub(crate) struct Reload {
    due: Option<Instant>,
    unchanged: u32,
}

impl Reload {
    /// Whether a reload is due at `now`; if so, the next one is scheduled after `target` (the
    /// playlist's target duration).
    pub(crate) fn due(&mut self, now: Instant, target: Duration) -> bool {
        let due = *self.due.get_or_insert(now);
        if now < due {
            return false;
        }
        let every = if self.unchanged > 0 {
            target / 2
        } else {
            target
        };
        self.due = Some(now + every.max(Duration::from_millis(100)));
        true
    }

    /// When the next reload is due, once scheduled.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.due
    }

    /// A reload came back; `changed`: it listed anything new.
    pub(crate) fn loaded(&mut self, changed: bool) {
        if changed {
            self.unchanged = 0;
        } else {
            self.unchanged = self.unchanged.saturating_add(1);
        }
    }
}
