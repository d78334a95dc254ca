//! The pieces a run has ordered and not placed yet, in play order: each is placed once its exact
//! length is known and every piece before it is placed. The queue also issues the pieces' ids and
//! knows which ids were given up (forgotten after a failure or an abandon, or of a run that a seek
//! or a cut replaced): what still arrives for them (a cancelled fetch that completed or failed
//! after all) is stale, and must not move the run.

use std::{collections::VecDeque, ops::RangeInclusive, time::Duration};

use kithara_stream::{BoundaryKind, MediaInfo};

use crate::stream::layout::Piece;

/// What the layout needs of a piece to place it, besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    /// The planner's id of the piece.
    pub(crate) id: u64,
    pub(crate) variant: usize,
    pub(crate) piece: Piece,
    /// Media time at its start, and how much it holds (zero for an init).
    pub(crate) time: Duration,
    pub(crate) duration: Duration,
    /// The boundary placed in front of it.
    pub(crate) boundary: Option<(BoundaryKind, Option<MediaInfo>)>,
    /// Whether its bytes need the latest init section placed before them.
    pub(crate) needs_init: bool,
}

/// A piece waiting to be placed, with what the adapter keeps with it (its storage).
#[derive(Debug)]
pub(crate) struct Queued<T> {
    pub(crate) slot: Slot,
    /// Exact length, once known.
    pub(crate) len: Option<u64>,
    pub(crate) payload: T,
}

/// An output: place this piece (of this length) at the end of the layout.
#[derive(Debug)]
pub(crate) struct Place<T> {
    pub(crate) slot: Slot,
    pub(crate) len: u64,
    pub(crate) payload: T,
}

/// The queue of unplaced pieces.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    items: VecDeque<Queued<T>>,
    /// The last id issued (ids grow in order of issue).
    last_id: u64,
    /// Ids given up. A new run collapses them into one range, so there are at most as many as the
    /// failures and abandons of the current run, plus one.
    stale: Vec<RangeInclusive<u64>>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            last_id: 0,
            stale: Vec::new(),
        }
    }
}

impl<T> Queue<T> {
    /// A new piece id, greater than every id issued before.
    pub(crate) fn issue_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// Whether piece `id` was given up: forgotten, or of a run that a new one replaced.
    pub(crate) fn is_stale(&self, id: u64) -> bool {
        self.stale.iter().any(|r| r.contains(&id))
    }

    /// A new run replaces the current one: every piece queued is dropped, and every id issued so
    /// far is stale.
    pub(crate) fn new_run(&mut self) {
        self.items.clear();
        self.stale.clear();
        self.stale.push(0..=self.last_id);
    }

    pub(crate) fn push(&mut self, q: Queued<T>) {
        self.items.push_back(q);
    }

    /// Records the exact length of piece `id` (the first one given counts).
    pub(crate) fn set_len(&mut self, id: u64, len: u64) -> bool {
        match self.items.iter_mut().find(|q| q.slot.id == id) {
            Some(q) if q.len.is_none() => {
                q.len = Some(len);
                true
            }
            _ => false,
        }
    }

    /// Takes every piece at the front whose length is known, in order.
    pub(crate) fn ready(&mut self) -> Vec<Place<T>> {
        let mut out = Vec::new();
        while let Some(len) = self.items.front().and_then(|q| q.len) {
            let Some(q) = self.items.pop_front() else {
                break;
            };
            out.push(Place {
                slot: q.slot,
                len,
                payload: q.payload,
            });
        }
        out
    }

    /// Forgets piece `id` and every piece queued after it: their ids are stale. Nothing is done
    /// for an id that is stale already (what was ordered since must stay).
    pub(crate) fn forget_from(&mut self, id: u64) {
        if self.is_stale(id) {
            return;
        }
        self.items.retain(|q| q.slot.id < id);
        self.stale.push(id..=self.last_id);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.items.iter().any(|q| q.slot.id == id)
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Queued<T>> {
        self.items.iter().find(|q| q.slot.id == id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Queued<T>> {
        self.items.iter_mut().find(|q| q.slot.id == id)
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Queued<T>> {
        self.items.iter_mut()
    }

    /// The sequence number of the first segment queued.
    pub(crate) fn first_segment(&self) -> Option<u64> {
        self.items.iter().find_map(|q| match q.slot.piece {
            Piece::Segment(s) => Some(s),
            Piece::Init => None,
        })
    }

    /// The variant of the last piece queued.
    pub(crate) fn last_variant(&self) -> Option<usize> {
        self.items.back().map(|q| q.slot.variant)
    }
}
