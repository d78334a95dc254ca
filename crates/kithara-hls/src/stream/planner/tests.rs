//! The planner's steps, driven into a real layout (no server, no runtime, no clock); the property
//! test is in `prop`.

use std::time::{Duration, Instant};

use kithara_storage::StorageResource;
use kithara_stream::{BoundaryKind, MediaInfo};
use url::Url;

use super::*;
use crate::{
    playlist::InitSection,
    stream::layout::{Entry, Layout},
};

pub(super) const SEGMENT: Duration = Duration::from_secs(2);

/// Segment `sequence` of `variant`; variant 2 is fMP4 (an init section), the others TS.
fn segment(variant: usize, sequence: u64, discontinuity: bool) -> Segment {
    let url = |p: String| Url::parse(&format!("http://h/v{variant}/{p}")).unwrap();
    Segment {
        sequence,
        discontinuity_sequence: 0,
        url: url(format!("{sequence}.seg")),
        duration: SEGMENT,
        start: SEGMENT * sequence as u32,
        byte_range: None,
        discontinuity,
        key: None,
        init: (variant == 2).then(|| InitSection {
            url: url("init.mp4".into()),
            byte_range: None,
        }),
    }
}

fn info(variant: usize) -> MediaInfo {
    MediaInfo::builder().variant_index(variant).build()
}

/// The bytes of piece `id`: its id, repeated.
fn bytes(id: u64, len: u64) -> Vec<u8> {
    vec![(id % 251) as u8; len as usize]
}

pub(super) type P = Planner<u64, ()>;

/// Orders the next segment of `variant` and queues its pieces, lengths unknown.
pub(super) fn order(p: &mut P, variant: usize, discontinuity: bool) -> Vec<u64> {
    let seq = p.next_sequence();
    let seg = segment(variant, seq, discontinuity);
    let orders = p.order(variant, &seg, info(variant), seg.start);
    let mut ids = Vec::new();
    for o in orders {
        let id = o.slot.id;
        ids.push(id);
        if let Piece::Segment(sequence) = o.slot.piece {
            p.started(Flight {
                id,
                variant,
                sequence,
                started: Instant::now(),
                duration: SEGMENT,
                handle: (),
            });
        }
        p.enqueue(o.slot, None, id);
    }
    ids
}

/// Places what the planner answers is ready into `layout`.
pub(super) fn place(p: &mut P, layout: &Layout) {
    for r in p.ready() {
        let res = StorageResource::memory();
        res.write_at(0, &bytes(r.payload, r.len)).unwrap();
        res.set_len(r.len).unwrap();
        let entry = Entry {
            start: 0,
            len: r.len,
            res,
            variant: r.slot.variant,
            piece: r.slot.piece,
            time: r.slot.time,
            duration: r.slot.duration,
            init: None,
        };
        layout.place(entry, r.slot.needs_init, r.slot.boundary);
    }
}

#[test]
fn the_first_piece_of_a_run_is_an_init_boundary_and_a_switch_is_one_boundary() {
    let layout = Layout::default();
    let mut p = P::new(0, 0);
    for (i, variant) in [0usize, 0, 1, 1, 2, 2].into_iter().enumerate() {
        for id in order(&mut p, variant, false) {
            assert!(p.length_known(id, 10 + id));
        }
        p.fetch_ended(p.flight().map(|f| f.id).unwrap());
        p.segment_in(i as u64);
        place(&mut p, &layout);
    }
    let st = layout.lock();
    let kinds: Vec<_> = st.boundaries.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        [
            BoundaryKind::Init,
            BoundaryKind::VariantSwitch,
            BoundaryKind::VariantSwitch
        ]
    );
    // Variant 2 starts with its init section, and its segments point at it.
    let init = st.entries.iter().find(|e| e.piece == Piece::Init).unwrap();
    assert_eq!(st.boundaries[2].init, Some(init.start..init.end()));
    assert!(st
        .entries
        .iter()
        .rev()
        .take(2)
        .all(|e| e.init == Some(init.start..init.end())));
    assert_eq!(p.next_sequence(), 6);
}

#[test]
fn pieces_are_placed_in_order_once_their_length_is_known() {
    let layout = Layout::default();
    let mut p = P::new(0, 0);
    let first = order(&mut p, 0, false)[0];
    p.fetch_ended(first);
    p.segment_in(0);
    let second = order(&mut p, 0, false)[0];
    p.length_known(second, 5);
    place(&mut p, &layout);
    assert!(
        layout.lock().entries.is_empty(),
        "the second waits for the first"
    );
    p.length_known(first, 7);
    place(&mut p, &layout);
    let st = layout.lock();
    let spans: Vec<_> = st.entries.iter().map(|e| (e.start, e.len)).collect();
    assert_eq!(spans, [(0, 7), (7, 5)]);
}

#[test]
fn a_failed_piece_is_forgotten_with_what_follows_and_ordered_again() {
    let mut p = P::new(4, 0);
    let a = order(&mut p, 1, false)[0];
    p.fetch_ended(a);
    p.forget_from(a);
    assert_eq!(p.next_sequence(), 4, "the same segment comes next");
    assert!(!p.is_queued(a));
    assert_eq!(
        p.last_variant(),
        None,
        "nothing of the run is left: the next is an init"
    );
    let b = order(&mut p, 0, false);
    assert!(p.is_queued(b[0]));
}

#[test]
fn the_abandon_rule_gives_up_only_an_unplaced_segment() {
    let layout = Layout::default();
    let mut p = P::new(0, 0);
    let fmp4 = order(&mut p, 2, false);
    let id = fmp4[1];
    assert!(p.abandon(0).is_some());
    // Its init section, fetched alongside, stays queued: only what comes from the segment on goes.
    assert!(p.is_queued(fmp4[0]));
    p.length_known(fmp4[0], 3);
    assert_eq!(
        p.take_forced().map(|d| (d.variant, d.reason)),
        Some((0, Reason::Emergency))
    );
    assert!(p.flight().is_none());
    // Placed: final, kept.
    let ids = order(&mut p, 0, false);
    for id in &ids {
        p.length_known(*id, 3);
    }
    place(&mut p, &layout);
    assert!(p.abandon(1).is_none());
    assert!(p.flight().is_some());
    assert!(!p.is_queued(id));
}

#[test]
fn a_seek_starts_a_new_run_and_nothing_is_placed_until_the_peer_takes_it() {
    let layout = Layout::default();
    let mut p = P::new(0, 0);
    let id = order(&mut p, 0, false)[0];
    layout.lock().start_run(9, SEGMENT * 9);
    p.length_known(id, 4);
    place(&mut p, &layout);
    assert!(
        layout.lock().entries.is_empty(),
        "the old run's piece is not placed"
    );
    let req = layout.lock().seek.take().unwrap();
    assert!(
        p.seek(req.sequence).is_some(),
        "the old run's fetch is cancelled"
    );
    assert_eq!((p.next_sequence(), p.last_variant()), (9, None));
    let id = order(&mut p, 0, false)[0];
    p.length_known(id, 4);
    place(&mut p, &layout);
    let st = layout.lock();
    assert_eq!(st.boundaries.len(), 1, "one boundary at the run's start");
    assert_eq!(st.boundaries[0].kind, BoundaryKind::SeekJump);
    assert_eq!(st.boundaries[0].time, Some(SEGMENT * 9));
    assert_eq!(st.boundaries[0].media_info, Some(info(0)));
}

#[test]
fn switch_now_cuts_only_what_the_reader_has_not_seen() {
    let layout = Layout::default();
    let mut p = P::new(0, 0);
    for seq in 0..4 {
        let id = order(&mut p, 0, false)[0];
        p.length_known(id, 10);
        p.fetch_ended(id);
        p.segment_in(seq);
        place(&mut p, &layout);
    }
    let next = order(&mut p, 0, false)[0];
    layout.lock().see(15); // the reader is in the second segment
    layout.request_switch();
    let cut = layout.lock().switch.take().unwrap();
    assert_eq!((cut.sequence, cut.kept_variant), (Some(2), Some(0)));
    assert_eq!(layout.lock().end(), 20, "the first two segments stay");
    assert!(
        p.rewind(cut.sequence, cut.kept_variant).is_some(),
        "segment 4 is cancelled"
    );
    assert!(!p.is_queued(next));
    assert_eq!(p.next_sequence(), 2);
    let id = order(&mut p, 1, false)[0];
    p.length_known(id, 7);
    place(&mut p, &layout);
    let st = layout.lock();
    let b = st.boundaries.last().unwrap();
    assert_eq!((b.pos, b.kind), (20, BoundaryKind::VariantSwitch));
}

#[test]
fn live_skips_and_the_end_are_reported_once() {
    let mut p = P::new(3, 0);
    assert_eq!(p.skip_to(2), None);
    assert_eq!(p.skip_to(7), Some((3, 7)));
    assert!(p.end());
    assert!(!p.end());
    assert!(!p.wants_segment());
    let now = Instant::now();
    let r = p.reload();
    assert!(r.due(now, SEGMENT));
    assert!(!r.due(now + SEGMENT / 2, SEGMENT));
    r.loaded(false);
    assert!(r.due(now + SEGMENT, SEGMENT));
    assert_eq!(
        r.next(),
        Some(now + SEGMENT + SEGMENT / 2),
        "half after an unchanged one"
    );
}

#[test]
fn a_stalling_download_switches_to_a_lower_variant_that_arrives_sooner() {
    let ladder = [20_000, 28_000, 36_000];
    let now = Instant::now();
    let flight = |ago: Duration| Flight {
        id: 1,
        variant: 2,
        sequence: 0,
        started: now - ago,
        duration: SEGMENT,
        handle: (),
    };
    let f = flight(Duration::from_secs(1));
    // 9000 bytes expected, 2500 in after 1 s (2.5 kB/s): 2.6 s left with an empty buffer.
    let slow = Progress {
        loaded: 2500,
        expected: 9000,
    };
    let all = [0, 1, 2];
    assert_eq!(
        f.verdict(now, slow, Duration::ZERO, &ladder, &all),
        Verdict::SwitchTo(0)
    );
    // A buffer that outlasts the rest keeps it.
    assert_eq!(
        f.verdict(now, slow, Duration::from_secs(3), &ladder, &all),
        Verdict::Keep
    );
    // Too early to judge, or nothing lower that is allowed.
    let early = flight(Duration::from_millis(400));
    let little = Progress {
        loaded: 100,
        expected: 9000,
    };
    assert_eq!(
        early.verdict(now, little, Duration::ZERO, &ladder, &all),
        Verdict::Keep
    );
    assert_eq!(
        f.verdict(now, slow, Duration::ZERO, &ladder, &[2]),
        Verdict::Keep
    );
}

#[test]
fn events_are_answered_by_the_planner_in_order() {
    use crate::stream::HlsEvent;
    let mut p = P::new(0, 0);
    // The first decision of a run switches nothing.
    p.decided(&Decision::new(0, Reason::Initial), SEGMENT);
    let id = order(&mut p, 0, false)[0];
    p.fetch_ended(id);
    p.fetched(id, 0, 0, 10);
    // Another variant is a switch, with its reason and the buffer it was decided with.
    p.decided(&Decision::new(1, Reason::Up), SEGMENT * 3);
    order(&mut p, 1, false);
    p.decided(&Decision::new(1, Reason::Hold), SEGMENT);
    p.placed(Some(BoundaryKind::Discontinuity), 42);
    p.placed(Some(BoundaryKind::VariantSwitch), 50);
    p.playlist_loaded(1, true, true);
    p.playlist_loaded(1, false, false);
    p.skip_to(9);
    p.end();
    p.end();
    let got: Vec<String> = p.take_events().iter().map(|e| format!("{e:?}")).collect();
    let want = [
        HlsEvent::SegmentFetched {
            variant: 0,
            sequence: 0,
            bytes: 10,
        },
        HlsEvent::VariantSwitch {
            from: 0,
            to: 1,
            reason: Reason::Up,
            buffer: SEGMENT * 3,
        },
        HlsEvent::Discontinuity { pos: 42 },
        HlsEvent::PlaylistLoaded { variant: 1 },
        HlsEvent::PlaylistReloaded {
            variant: 1,
            changed: false,
        },
        HlsEvent::SegmentsSkipped { from: 1, to: 9 },
        HlsEvent::Ended,
    ];
    let want: Vec<String> = want.iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(got, want);
    assert!(p.take_events().is_empty(), "taken once");
}

#[test]
fn playlists_load_once_and_a_failed_variant_is_excluded_and_failed_over() {
    let mut p = P::new(0, 0).with_variants(3);
    assert!(p.load_playlist(1));
    assert!(!p.load_playlist(1), "one load at a time");
    p.playlist_loaded(1, true, true);
    assert!(p.load_playlist(1), "loaded: a reload may start");
    p.playlist_arrived(1);
    let now = Instant::now();
    let ladder = [100, 200, 300];
    let err = kithara_stream::Error::Cancelled;
    assert_eq!(p.exclude(1, err.clone(), &ladder, now), Some(0));
    assert_eq!(p.excluded_mask(now), vec![false, true, false]);
    assert_eq!(p.exclude(0, err.clone(), &ladder, now), Some(2));
    assert_eq!(p.exclude(2, err, &ladder, now), None, "none left");
    let excluded = p
        .take_events()
        .iter()
        .filter(|e| matches!(e, crate::stream::HlsEvent::VariantExcluded { .. }))
        .count();
    assert_eq!(excluded, 3);
}
