//! "Switch now": the placed pieces the reader has not seen are cut, so that the new variant is
//! laid out next. What the reader could have seen (bytes read or waited for, boundaries and
//! lengths answered: `State::seen`) never changes.

use super::{Layout, Piece, State};

/// What a "switch now" cut: the first segment cut (if one was placed), and the variant of the
/// last piece kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cut {
    pub(crate) sequence: Option<u64>,
    pub(crate) kept_variant: Option<usize>,
}

impl State {
    /// Cuts the placed pieces the reader has not seen, from the first one after what it has seen
    /// (never the first piece of the current run, which holds the run's boundary). Answers where
    /// the run goes on from; `None` while a new run waits to be taken (it replaces everything
    /// anyway).
    pub(super) fn cut_unseen(&mut self) -> Option<Cut> {
        if self.seek.is_some() || self.jump.is_some() {
            return None;
        }
        let run_start = self.current_run_start();
        let i = self
            .entries
            .iter()
            .position(|e| e.start >= self.seen && e.start > run_start)
            .unwrap_or(self.entries.len());
        let sequence = self.entries[i..].iter().find_map(|e| match e.piece {
            Piece::Segment(s) => Some(s),
            Piece::Init => None,
        });
        if let Some(pos) = self.entries.get(i).map(|e| e.start) {
            tracing::debug!(
                pos,
                pieces = self.entries.len() - i,
                "cutting unseen pieces"
            );
            self.entries.truncate(i);
            self.boundaries.retain(|b| b.pos < pos);
            self.ended = false;
        }
        Some(Cut {
            sequence,
            kept_variant: self.entries.last().map(|e| e.variant),
        })
    }
}

impl Layout {
    /// A "switch now": cuts what the reader has not seen, at once (the reader may be fast), and
    /// leaves the cut for the peer, which goes on from there with the new mode.
    pub(crate) fn request_switch(&self) {
        let mut st = self.lock();
        if st.switch.is_none() {
            st.switch = st.cut_unseen();
        }
        self.changed(st);
    }
}
