//! The planner: what an HLS stream fetches, and in which order its pieces are placed.
//!
//! A plain state machine with no locks, no closures, no I/O and no clock: the peer (the adapter
//! around it) feeds it inputs — a segment the ABR policy chose ([`Planner::order`]), a length
//! learnt, a fetch completed or failed, a seek that starts a new run, a playlist reloaded, the
//! time — and turns what it answers into fetch commands and placements:
//!
//! - [`Planner::order`] answers the pieces to fetch for a segment (its variant's init section when
//!   the run has not placed that one yet, then the segment), each with the boundary that goes in
//!   front of it: `Init` for the first piece of a run, `VariantSwitch` when the variant changes,
//!   `Discontinuity` at an `EXT-X-DISCONTINUITY`; so one boundary per change, never more.
//! - [`Planner::ready`] answers the pieces to place at the end of the layout: every queued piece
//!   whose exact length is known and whose predecessors are placed, in play order. A placed piece
//!   is final; what the planner may still give up ([`Planner::forget_from`], the abandon rule) is
//!   only what it has not placed.
//! - [`Planner::take_events`] answers the events of what it decided or learnt (a variant switch
//!   with its reason, a segment fetched, segments skipped, a discontinuity placed, a variant
//!   excluded, a playlist loaded or reloaded, the end, the failure), in order; the adapter only
//!   forwards them.
//!
//! The planner owns what is being fetched and why (the run's next segment, the segment in flight,
//! the queue of unplaced pieces, a forced decision, the reload schedule, which playlists are
//! loading, which variants are excluded, which keys are fetched); the layout owns what the
//! reader sees. `T` is what the adapter keeps with a queued piece (its storage), `F` its handle on
//! the fetch in flight (cancel token, progress counters).

mod events;
mod flight;
#[cfg(test)]
mod prop;
mod queue;
mod reload;
mod supply;
#[cfg(test)]
mod tests;

use std::time::Duration;

use kithara_stream::{BoundaryKind, MediaInfo};
use url::Url;

pub(crate) use flight::{Flight, Progress, Verdict, CHECK_EVERY};
pub(crate) use queue::{Place, Queued, Slot};
pub(crate) use reload::Reload;

use super::layout::Piece;
use crate::{
    abr::{Decision, Reason},
    keys::KEY_LEN,
    playlist::{Segment, SegmentId},
};
use queue::Queue;

/// One piece to fetch, as [`Planner::order`] answers it.
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) slot: Slot,
    /// The piece's identity: URL and byte range.
    pub(crate) sid: SegmentId,
    /// The key URI and IV of an AES-128 segment.
    pub(crate) encryption: Option<(Url, [u8; KEY_LEN])>,
}

/// The planner of one HLS stream (see the module docs).
#[derive(Debug)]
pub(crate) struct Planner<T, F> {
    /// Media sequence number of the next segment of the run.
    next_seq: u64,
    /// Variant of the last piece ordered in this run (queued or placed).
    last_variant: Option<usize>,
    /// The init section the last piece ordered in this run needs (placed or queued).
    last_init: Option<SegmentId>,
    /// Variant of the last piece this run placed.
    placed_variant: Option<usize>,
    /// Every segment of the run is ordered (the playlist ended).
    ended: bool,
    queue: Queue<T>,
    flight: Option<Flight<F>>,
    /// A decision for the next segment made already (by the abandon rule, or kept while cached
    /// assets open).
    forced: Option<Decision>,
    /// Playlists loading, exclusions, keys, the reload schedule.
    supply: supply::Supply,
    /// Variant of the last segment ordered, across runs (the ABR policy's current one).
    chosen: usize,
    /// Events answered and not taken yet (see [`Planner::take_events`]).
    events: Vec<crate::stream::HlsEvent>,
}

impl<T, F> Planner<T, F> {
    /// A planner whose first run starts at media sequence number `start_seq`, with `variant`
    /// chosen at open.
    pub(crate) fn new(start_seq: u64, variant: usize) -> Self {
        Self {
            next_seq: start_seq,
            last_variant: None,
            last_init: None,
            placed_variant: None,
            ended: false,
            queue: Queue::default(),
            flight: None,
            forced: None,
            supply: supply::Supply::default(),
            chosen: variant,
            events: Vec::new(),
        }
    }

    /// The variant of the last segment ordered (at open, the one chosen then).
    pub(crate) fn chosen(&self) -> usize {
        self.chosen
    }

    /// Input: the layout cut the pieces the reader had not seen, after the last one it kept
    /// (of `kept_variant`), for a "switch now"; `cut` is the first segment cut, if any was placed.
    /// The run goes on from the first segment not laid out: the queue is dropped and the fetch in
    /// flight returned, to cancel.
    pub(crate) fn rewind(
        &mut self,
        cut: Option<u64>,
        kept_variant: Option<usize>,
    ) -> Option<Flight<F>> {
        let from = cut
            .or_else(|| self.queue.first_segment())
            .or_else(|| self.flight.as_ref().map(|f| f.sequence))
            .unwrap_or(self.next_seq);
        self.queue.new_run();
        self.forced = None;
        self.next_seq = from;
        self.last_variant = kept_variant;
        self.placed_variant = kept_variant;
        self.last_init = None;
        self.ended = false;
        self.flight.take()
    }

    /// Input: the reader sought by time to media the layout does not hold; a new run starts at
    /// segment `sequence`. Returns the fetch in flight, to cancel.
    pub(crate) fn seek(&mut self, sequence: u64) -> Option<Flight<F>> {
        self.queue.new_run();
        self.forced = None;
        self.next_seq = sequence;
        self.last_variant = None;
        self.last_init = None;
        self.placed_variant = None;
        self.ended = false;
        self.flight.take()
    }

    /// Media sequence number of the next segment to order.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// Whether a new segment may be ordered: none in flight, the run not ended.
    pub(crate) fn wants_segment(&self) -> bool {
        self.flight.is_none() && !self.ended
    }

    /// The variant of the last piece ordered in this run.
    pub(crate) fn last_variant(&self) -> Option<usize> {
        self.last_variant
    }

    /// Input: a live playlist's window starts at `first`. Returns the sequence numbers skipped
    /// (`from..to`), if the run was behind it (and answers `SegmentsSkipped`); what follows does
    /// not continue what was laid out.
    pub(crate) fn skip_to(&mut self, first: u64) -> Option<(u64, u64)> {
        if self.next_seq >= first {
            return None;
        }
        let from = std::mem::replace(&mut self.next_seq, first);
        self.last_init = None;
        self.events
            .push(crate::stream::HlsEvent::SegmentsSkipped { from, to: first });
        Some((from, first))
    }

    /// Input: the playlist ended before the run's next segment. Returns `true` (and answers
    /// `Ended`) the first time.
    pub(crate) fn end(&mut self) -> bool {
        let first = !std::mem::replace(&mut self.ended, true);
        if first {
            self.events.push(crate::stream::HlsEvent::Ended);
        }
        first
    }

    /// Whether the run is over: its last segment ordered, and every piece placed. Only then may
    /// the reader meet the end (a reader at the end of what is placed would take it for the
    /// stream's).
    pub(crate) fn is_done(&self) -> bool {
        self.ended && self.queue.is_empty()
    }

    /// Whether the run still has to place `seg`'s init section.
    pub(crate) fn needs_init_of(&self, seg: &Segment) -> bool {
        seg.init
            .as_ref()
            .is_some_and(|i| self.last_init.as_ref() != Some(&i.id()))
    }

    /// Takes the decision made already for the next segment, if any.
    pub(crate) fn take_forced(&mut self) -> Option<Decision> {
        self.forced.take()
    }

    /// Input: use `decision` for the next segment.
    pub(crate) fn force(&mut self, decision: Decision) {
        self.forced = Some(decision);
    }

    /// Input: `seg` of `variant` (whose facts are `info`) comes next in the run, starting at media
    /// time `time`. Answers the pieces to fetch, in play order, each with its boundary.
    pub(crate) fn order(
        &mut self,
        variant: usize,
        seg: &Segment,
        info: MediaInfo,
        time: Duration,
    ) -> Vec<Order> {
        let mut boundary = match self.last_variant {
            None => Some((BoundaryKind::Init, Some(info))),
            Some(v) if v != variant => Some((BoundaryKind::VariantSwitch, Some(info))),
            Some(_) if seg.discontinuity => Some((BoundaryKind::Discontinuity, Some(info))),
            // An init section laid out again (after a failure or a cut) is where a decoder starts
            // over too.
            Some(_) if self.needs_init_of(seg) => Some((BoundaryKind::Init, Some(info))),
            Some(_) => None,
        };
        let mut out = Vec::new();
        if let Some(init) = seg.init.as_ref().filter(|_| self.needs_init_of(seg)) {
            self.last_init = Some(init.id());
            out.push(Order {
                slot: self.slot(variant, Piece::Init, time, Duration::ZERO, boundary.take()),
                sid: init.id(),
                encryption: None,
            });
        }
        let mut slot = self.slot(
            variant,
            Piece::Segment(seg.sequence),
            time,
            seg.duration,
            boundary,
        );
        slot.needs_init = seg.init.is_some();
        out.push(Order {
            slot,
            sid: seg.id(),
            encryption: seg
                .key
                .as_ref()
                .map(|k| (k.uri.clone(), k.iv_for(seg.sequence))),
        });
        self.last_variant = Some(variant);
        self.chosen = variant;
        out
    }

    fn slot(
        &mut self,
        variant: usize,
        piece: Piece,
        time: Duration,
        duration: Duration,
        boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
    ) -> Slot {
        Slot {
            id: self.queue.issue_id(),
            variant,
            piece,
            time,
            duration,
            boundary,
            needs_init: false,
        }
    }

    /// Input: an ordered piece is queued for placement, with its length if known already.
    pub(crate) fn enqueue(&mut self, slot: Slot, len: Option<u64>, payload: T) {
        self.queue.push(Queued { slot, len, payload });
    }

    /// Input: the fetch of the segment `flight` describes started.
    pub(crate) fn started(&mut self, flight: Flight<F>) {
        self.flight = Some(flight);
    }

    /// Input: the exact length of piece `id` is known. Returns whether it was news.
    pub(crate) fn length_known(&mut self, id: u64, len: u64) -> bool {
        self.queue.set_len(id, len)
    }

    /// Input: the fetch of piece `id` ended (completed, failed or cancelled).
    pub(crate) fn fetch_ended(&mut self, id: u64) {
        if self.flight.as_ref().is_some_and(|f| f.id == id) {
            self.flight = None;
        }
    }

    /// Input: segment `sequence` is in (fetched, or found fetched already): the run goes on after
    /// it, unless another segment is in flight.
    pub(crate) fn segment_in(&mut self, sequence: u64) {
        if self.flight.is_none() {
            self.next_seq = sequence.saturating_add(1);
        }
    }

    /// Whether piece `id` was given up (forgotten, or of a run a seek or a cut replaced): what
    /// still arrives for it must not move the run.
    pub(crate) fn is_stale(&self, id: u64) -> bool {
        self.queue.is_stale(id)
    }

    /// Input: piece `id` failed (or changed on the server). It and every piece queued after it are
    /// forgotten, so they are chosen and fetched again; the run goes on from the variant of what
    /// remains. Nothing is done for a stale piece.
    pub(crate) fn forget_from(&mut self, id: u64) {
        if self.queue.is_stale(id) {
            return;
        }
        self.queue.forget_from(id);
        self.last_variant = self.queue.last_variant().or(self.placed_variant);
        self.last_init = None;
    }

    /// Input: the abandon rule gave up the segment in flight for variant `to`. Returns the flight
    /// to cancel; `None` (nothing done) when it is placed already or none is in flight.
    pub(crate) fn abandon(&mut self, to: usize) -> Option<Flight<F>> {
        let id = self.flight.as_ref()?.id;
        if !self.queue.contains(id) {
            return None;
        }
        let flight = self.flight.take()?;
        self.forget_from(id);
        self.forced = Some(Decision::new(to, Reason::Emergency));
        Some(flight)
    }

    /// Output: the pieces to place now, in order.
    pub(crate) fn ready(&mut self) -> Vec<Place<T>> {
        let out = self.queue.ready();
        if let Some(p) = out.last() {
            self.placed_variant = Some(p.slot.variant);
        }
        out
    }

    /// The segment in flight.
    pub(crate) fn flight(&self) -> Option<&Flight<F>> {
        self.flight.as_ref()
    }

    /// Whether piece `id` is queued (not placed).
    pub(crate) fn is_queued(&self, id: u64) -> bool {
        self.queue.contains(id)
    }

    /// A queued piece.
    pub(crate) fn queued(&self, id: u64) -> Option<&Queued<T>> {
        self.queue.get(id)
    }

    /// A queued piece, to update what the adapter keeps with it.
    pub(crate) fn queued_mut(&mut self, id: u64) -> Option<&mut Queued<T>> {
        self.queue.get_mut(id)
    }

    /// The live reload schedule.
    pub(crate) fn reload(&mut self) -> &mut Reload {
        &mut self.supply.reload
    }
}
