//! [`Queue`]: the ordered tracks, the play order (shuffled or not) and the repeat mode: a plain
//! model without locks or I/O, owned by the control thread.

use crate::{Repeat, Track, TrackId};

/// The queue's tracks in the caller's order, plus a shuffled play order when shuffle is on.
#[derive(Debug)]
pub(crate) struct Queue {
    items: Vec<(TrackId, Track)>,
    /// The play order when shuffled (a permutation of the items' ids).
    shuffled: Option<Vec<TrackId>>,
    repeat: Repeat,
    rng: fastrand::Rng,
}

impl Queue {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self {
            items: Vec::new(),
            shuffled: None,
            repeat: Repeat::Off,
            rng: seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn track(&self, id: TrackId) -> Option<&Track> {
        self.items.iter().find(|(i, _)| *i == id).map(|(_, t)| t)
    }

    pub(crate) fn index_of(&self, id: TrackId) -> Option<usize> {
        self.items.iter().position(|(i, _)| *i == id)
    }

    pub(crate) fn id_at(&self, index: usize) -> Option<TrackId> {
        self.items.get(index).map(|(id, _)| *id)
    }

    /// Inserts at `index` (clamped to the end); a shuffled order takes it at a random place
    /// after `current`.
    pub(crate) fn insert(
        &mut self,
        index: usize,
        id: TrackId,
        track: Track,
        current: Option<TrackId>,
    ) {
        let index = index.min(self.items.len());
        self.items.insert(index, (id, track));
        let after = current.and_then(|c| self.order_pos(c)).map_or(0, |p| p + 1);
        if let Some(order) = &mut self.shuffled {
            let at = self.rng.usize(after.min(order.len())..=order.len());
            order.insert(at, id);
        }
    }

    /// Removes the track at `index`; returns its id.
    pub(crate) fn remove(&mut self, index: usize) -> Option<TrackId> {
        if index >= self.items.len() {
            return None;
        }
        let (id, _) = self.items.remove(index);
        if let Some(order) = &mut self.shuffled {
            order.retain(|i| *i != id);
        }
        Some(id)
    }

    /// Moves the track at `from` to `to` (clamped); returns whether it moved.
    pub(crate) fn move_item(&mut self, from: usize, to: usize) -> bool {
        if from >= self.items.len() {
            return false;
        }
        let item = self.items.remove(from);
        let to = to.min(self.items.len());
        self.items.insert(to, item);
        true
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        if let Some(order) = &mut self.shuffled {
            order.clear();
        }
    }

    pub(crate) fn set_repeat(&mut self, repeat: Repeat) {
        self.repeat = repeat;
    }

    /// Turns shuffle on (a new random order starting with `current`) or off.
    pub(crate) fn set_shuffle(&mut self, on: bool, current: Option<TrackId>) {
        if !on {
            self.shuffled = None;
            return;
        }
        let mut order: Vec<TrackId> = self.items.iter().map(|(id, _)| *id).collect();
        self.rng.shuffle(&mut order);
        if let Some(pos) = current.and_then(|c| order.iter().position(|i| *i == c)) {
            order.swap(0, pos);
        }
        self.shuffled = Some(order);
    }

    /// The first track in play order.
    pub(crate) fn first(&self) -> Option<TrackId> {
        self.order_at(0)
    }

    /// The track after `id` in play order: `manual` is a caller's "next" (repeat-one does not
    /// hold it back); otherwise the queue moves on by itself.
    pub(crate) fn next_after(&self, id: TrackId, manual: bool) -> Option<TrackId> {
        if self.repeat == Repeat::One && !manual && self.track(id).is_some() {
            return Some(id);
        }
        let pos = self.order_pos(id)?;
        match self.order_at(pos + 1) {
            Some(next) => Some(next),
            None if self.repeat != Repeat::Off => self.first(),
            None => None,
        }
    }

    /// The track before `id` in play order (the last one with repeat-all; `id` itself at the
    /// start otherwise).
    pub(crate) fn previous_before(&self, id: TrackId) -> Option<TrackId> {
        let pos = self.order_pos(id)?;
        match pos.checked_sub(1) {
            Some(p) => self.order_at(p),
            None if self.repeat == Repeat::All => self.order_at(self.items.len().checked_sub(1)?),
            None => Some(id),
        }
    }

    fn order_at(&self, pos: usize) -> Option<TrackId> {
        match &self.shuffled {
            Some(order) => order.get(pos).copied(),
            None => self.id_at(pos),
        }
    }

    fn order_pos(&self, id: TrackId) -> Option<usize> {
        match &self.shuffled {
            Some(order) => order.iter().position(|i| *i == id),
            None => self.index_of(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(n: u64) -> Queue {
        let mut q = Queue::new(Some(7));
        for i in 0..n {
            q.insert(
                usize::MAX,
                TrackId(i),
                Track::path(format!("{i}.mp3")),
                None,
            );
        }
        q
    }

    #[test]
    fn next_and_previous_follow_repeat() {
        let mut q = queue(3);
        assert_eq!(q.next_after(TrackId(0), false), Some(TrackId(1)));
        assert_eq!(q.next_after(TrackId(2), false), None);
        assert_eq!(q.previous_before(TrackId(0)), Some(TrackId(0)));
        q.set_repeat(Repeat::All);
        assert_eq!(q.next_after(TrackId(2), false), Some(TrackId(0)));
        assert_eq!(q.previous_before(TrackId(0)), Some(TrackId(2)));
        q.set_repeat(Repeat::One);
        assert_eq!(q.next_after(TrackId(1), false), Some(TrackId(1)));
        assert_eq!(q.next_after(TrackId(1), true), Some(TrackId(2)));
    }

    #[test]
    fn edits_keep_ids() {
        let mut q = queue(4);
        assert!(q.move_item(0, 3));
        assert_eq!(q.id_at(3), Some(TrackId(0)));
        assert_eq!(q.remove(0), Some(TrackId(1)));
        assert_eq!(q.index_of(TrackId(0)), Some(2));
        q.clear();
        assert_eq!((q.len(), q.id_at(0)), (0, None));
    }

    #[test]
    fn shuffle_is_a_permutation_starting_at_current() {
        let mut q = queue(10);
        q.set_shuffle(true, Some(TrackId(4)));
        assert_eq!(q.first(), Some(TrackId(4)));
        let mut seen = vec![TrackId(4)];
        let mut cur = TrackId(4);
        while let Some(n) = q.next_after(cur, false) {
            seen.push(n);
            cur = n;
        }
        seen.sort();
        assert_eq!(seen, (0..10).map(TrackId).collect::<Vec<_>>());
    }
}
