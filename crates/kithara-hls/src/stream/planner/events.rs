//! The planner's events: what it decided or learnt that the application hears of. The planner
//! answers them in order in its outbox ([`Planner::take_events`]); the adapter only forwards them
//! to the stream's channel.

use std::time::Duration;

use kithara_stream::{BoundaryKind, Error};

use super::Planner;
use crate::{abr::Decision, stream::HlsEvent};

impl<T, F> Planner<T, F> {
    /// Output: the events answered since the last call, in order.
    pub(crate) fn take_events(&mut self) -> Vec<HlsEvent> {
        std::mem::take(&mut self.events)
    }

    /// Input: the ABR policy decided `decision` for the next segment, with `buffer` laid out
    /// ahead of the reader. Answers a `VariantSwitch` when it changes the run's variant.
    pub(crate) fn decided(&mut self, decision: &Decision, buffer: Duration) {
        if let Some(from) = self.last_variant.filter(|&v| v != decision.variant) {
            self.events.push(HlsEvent::VariantSwitch {
                from,
                to: decision.variant,
                reason: decision.reason,
                buffer,
            });
        }
    }

    /// Input: segment `sequence` of `variant`, piece `id`, was fetched completely (`bytes` long).
    /// The run goes on after it (see [`Planner::segment_in`]), unless the piece is stale (a fetch
    /// a seek, a cut or the abandon rule cancelled that completed after all: the run it belonged
    /// to is not this one); answers `SegmentFetched` either way (its bytes are stored).
    pub(crate) fn fetched(&mut self, id: u64, variant: usize, sequence: u64, bytes: u64) {
        self.events.push(HlsEvent::SegmentFetched {
            variant,
            sequence,
            bytes,
        });
        if !self.is_stale(id) {
            self.segment_in(sequence);
        }
    }

    /// Input: the layout placed a piece the planner answered with `boundary` in front of it, at
    /// `pos`. Answers `Discontinuity` for an `EXT-X-DISCONTINUITY` boundary.
    pub(crate) fn placed(&mut self, boundary: Option<BoundaryKind>, pos: u64) {
        if boundary == Some(BoundaryKind::Discontinuity) {
            self.events.push(HlsEvent::Discontinuity { pos });
        }
    }

    /// Input: variant `variant`'s media playlist loaded (`first`: for the first time; `changed`:
    /// it lists anything new). Schedules the next reload; answers `PlaylistLoaded` or
    /// `PlaylistReloaded`.
    pub(super) fn playlist_loaded(&mut self, variant: usize, first: bool, changed: bool) {
        self.playlist_arrived(variant);
        self.supply.reload.loaded(changed);
        self.events.push(if first {
            HlsEvent::PlaylistLoaded { variant }
        } else {
            HlsEvent::PlaylistReloaded { variant, changed }
        });
    }

    /// Input: piece `id`, partly cached, changed on the server (`reason`). It and what follows it
    /// are forgotten (see [`Planner::forget_from`]); answers `VersionChanged`.
    pub(crate) fn changed_on_server(&mut self, id: u64, reason: Error) {
        self.events.push(HlsEvent::VersionChanged { reason });
        self.forget_from(id);
    }

    /// Input: the stream failed with `error` (the layout took the failure). Answers `Failed`.
    pub(crate) fn failed(&mut self, error: Error) {
        self.events.push(HlsEvent::Failed(error));
    }
}
