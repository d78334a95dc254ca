//! A property test: random demand, lengths, completions, failures, abandons, seeks, reads and
//! "switch now"s drive the planner into a real layout, and fetches given up by them complete or
//! fail after all; what the reader could have seen never changes, the pieces tile the byte space,
//! there is one boundary per change of variant, and a run never skips a segment.

use kithara_stream::{Boundary, BoundaryKind};
use proptest::prelude::*;

use super::{
    tests::{order, place, P, SEGMENT},
    Flight,
};
use crate::stream::layout::{Layout, Piece};

/// One step of the reader, the network or the ABR policy.
#[derive(Debug, Clone)]
enum Op {
    /// The buffer wants the next segment, of this variant.
    Order { variant: usize, discontinuity: bool },
    /// The length of the `pick`th queued piece arrives (a response's `Content-Length`).
    Length { pick: usize, len: u64 },
    /// The segment in flight completes.
    Complete,
    /// The segment in flight fails.
    Fail,
    /// The abandon rule gives the segment in flight up for this variant.
    Abandon { to: usize },
    /// The reader seeks by time to media not laid out.
    Seek { sequence: u64 },
    /// The reader reads (or is told of a boundary) up to this far into the layout, in 1/16ths.
    Read { sixteenths: u64 },
    /// The application asks to switch now: the layout cuts what the reader has not seen.
    SwitchNow,
    /// The `pick`th fetch given up (by a seek, a cut or the abandon rule) completes, or fails,
    /// after all: its cancellation came too late.
    Late { pick: usize, fail: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, any::<bool>()).prop_map(|(variant, d)| Op::Order { variant, discontinuity: d && variant != 2 }),
        4 => (0..4usize, 1..40u64).prop_map(|(pick, len)| Op::Length { pick, len }),
        2 => Just(Op::Complete),
        1 => Just(Op::Fail),
        1 => (0..3usize).prop_map(|to| Op::Abandon { to }),
        1 => (0..20u64).prop_map(|sequence| Op::Seek { sequence }),
        2 => (0..=16u64).prop_map(|sixteenths| Op::Read { sixteenths }),
        1 => Just(Op::SwitchNow),
        2 => (0..4usize, any::<bool>()).prop_map(|(pick, fail)| Op::Late { pick, fail }),
    ]
}

/// What is placed: every piece (offset, length, variant, bytes) and boundary, and how far the
/// reader could have seen.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    pieces: Vec<(u64, u64, usize, Vec<u8>)>,
    boundaries: Vec<Boundary>,
    upto: u64,
}

impl Seen {
    /// Only what lies before `upto`: the bytes, and the boundaries, the reader could have seen.
    fn before(&self, upto: u64) -> Seen {
        let pieces = self
            .pieces
            .iter()
            .filter(|p| p.0 < upto)
            .map(|(start, len, v, b)| {
                let keep = (upto - start).min(*len) as usize;
                (*start, *len, *v, b[..keep.min(b.len())].to_vec())
            })
            .collect();
        let boundaries = self
            .boundaries
            .iter()
            .filter(|b| b.pos < upto)
            .cloned()
            .collect();
        Seen {
            pieces,
            boundaries,
            upto,
        }
    }
}

fn seen(layout: &Layout) -> Seen {
    let st = layout.lock();
    Seen {
        pieces: st
            .entries
            .iter()
            .map(|e| {
                let mut b = vec![0; e.len as usize];
                let n = e.res.read_at(0, &mut b).unwrap();
                b.truncate(n);
                (e.start, e.len, e.variant, b)
            })
            .collect(),
        boundaries: st.boundaries.clone(),
        upto: st.seen,
    }
}

/// A fetch given up: its piece id, variant and segment.
type GivenUp = (u64, usize, u64);

fn given_up(f: Option<Flight<()>>) -> Option<GivenUp> {
    f.map(|f| (f.id, f.variant, f.sequence))
}

/// What the adapter does when a segment's fetch completes.
fn complete(p: &mut P, (id, variant, sequence): GivenUp) {
    p.fetch_ended(id);
    p.length_known(id, 8);
    p.fetched(id, variant, sequence, 8);
}

/// What the adapter does when a segment's fetch fails.
fn fail(p: &mut P, id: u64) {
    p.fetch_ended(id);
    if !p.is_stale(id) {
        p.forget_from(id);
    }
}

fn step(p: &mut P, layout: &Layout, queued: &mut Vec<u64>, late: &mut Vec<GivenUp>, op: Op) {
    match op {
        Op::Order {
            variant,
            discontinuity,
        } => {
            if p.wants_segment() {
                queued.extend(order(p, variant, discontinuity));
            }
        }
        Op::Length { pick, len } => {
            queued.retain(|id| p.is_queued(*id));
            if let Some(&id) = queued.get(pick % queued.len().max(1)) {
                p.length_known(id, len);
            }
        }
        Op::Complete => {
            if let Some(f) = p.flight().map(|f| (f.id, f.variant, f.sequence)) {
                complete(p, f);
            }
        }
        Op::Fail => {
            if let Some(id) = p.flight().map(|f| f.id) {
                fail(p, id);
            }
        }
        Op::Abandon { to } => {
            late.extend(given_up(p.abandon(to)));
        }
        Op::Seek { sequence } => {
            layout.lock().start_run(sequence, SEGMENT * sequence as u32);
            place(p, layout); // a callback before the peer takes the request places nothing
            let req = layout.lock().seek.take();
            if let Some(req) = req {
                late.extend(given_up(p.seek(req.sequence)));
                queued.clear();
            }
        }
        Op::Read { sixteenths } => {
            let mut st = layout.lock();
            let at = st.end() * sixteenths / 16;
            st.see(at);
        }
        Op::SwitchNow => {
            layout.request_switch();
            place(p, layout); // a callback before the peer takes the cut places nothing
            let cut = layout.lock().switch.take();
            if let Some(cut) = cut {
                late.extend(given_up(p.rewind(cut.sequence, cut.kept_variant)));
                queued.clear();
            }
        }
        Op::Late { pick, fail: failed } => {
            if !late.is_empty() {
                let f = late.remove(pick % late.len());
                if failed {
                    fail(p, f.0);
                } else {
                    complete(p, f);
                }
            }
        }
    }
    place(p, layout);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn placed_pieces_and_boundaries_are_final(ops in prop::collection::vec(op(), 1..80)) {
        let layout = Layout::default();
        let mut p = P::new(0, 0);
        let mut queued = Vec::new();
        let mut late = Vec::new();
        let mut before = seen(&layout);
        for op in ops {
            let cuts = matches!(op, Op::SwitchNow);
            step(&mut p, &layout, &mut queued, &mut late, op);
            let now = seen(&layout);
            // What the reader could have seen (bytes and boundaries) is still there, unchanged, at
            // the same offsets; and without a "switch now", everything placed is.
            prop_assert_eq!(now.before(before.upto), before.before(before.upto));
            prop_assert!(now.upto >= before.upto);
            if !cuts {
                prop_assert_eq!(&now.pieces[..before.pieces.len()], &before.pieces[..]);
                prop_assert_eq!(&now.boundaries[..before.boundaries.len()], &before.boundaries[..]);
            }
            before = now;
        }
        let st = layout.lock();
        // No byte offset used twice: the pieces tile the byte space.
        for w in st.entries.windows(2) {
            prop_assert_eq!(w[0].end(), w[1].start);
        }
        // One boundary per change of variant, at most one per offset, and a switch only where the
        // variant changes.
        for w in st.boundaries.windows(2) {
            prop_assert!(w[0].pos < w[1].pos);
        }
        for w in st.entries.windows(2) {
            let at = st.boundaries.iter().find(|b| b.pos == w[1].start);
            if w[0].variant != w[1].variant {
                prop_assert!(at.is_some(), "no boundary at a variant change: {:?}", w[1].start);
            }
            if let Some(b) = at.filter(|b| b.kind == BoundaryKind::VariantSwitch) {
                prop_assert!(w[0].variant != w[1].variant, "a switch without a change at {}", b.pos);
            }
        }
        // Within a run (up to the next seek jump), a segment is followed by the next one, or by
        // itself laid out again after it failed: a run never skips one, whatever arrives late.
        let mut last: Option<u64> = None;
        for e in &st.entries {
            if st.boundaries.iter().any(|b| b.pos == e.start && b.kind == BoundaryKind::SeekJump) {
                last = None;
            }
            if let Piece::Segment(s) = e.piece {
                if let Some(l) = last {
                    prop_assert!(s == l || s == l + 1, "segment {} after {} at {}", s, l, e.start);
                }
                last = Some(s);
            }
        }
        // Every fMP4 segment points at an init section of its variant placed before it.
        for e in st.entries.iter().filter(|e| e.variant == 2 && e.piece != Piece::Init) {
            let init = e.init.clone();
            prop_assert!(init.is_some());
            let i = st.entries.iter().find(|x| Some(x.start..x.end()) == init).map(|x| (x.piece, x.variant));
            prop_assert_eq!(i, Some((Piece::Init, 2)));
        }
    }
}
