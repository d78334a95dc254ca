//! Placement, times and release of the layout.

use super::*;

fn entry(time: u64, piece: Piece) -> Entry {
    let res = StorageResource::memory();
    res.write_at(0, &[1u8; 10]).unwrap_or(());
    let _ = res.set_len(10);
    Entry {
        start: 0,
        len: 10,
        res,
        variant: 0,
        piece,
        time: Duration::from_secs(time),
        duration: Duration::from_secs(2),
        init: None,
    }
}

#[test]
fn placement_times_and_release() {
    let layout = Layout::default();
    for (i, t) in [0u64, 2, 4].iter().enumerate() {
        let at = layout.place(entry(*t, Piece::Segment(i as u64)), false, None);
        assert_eq!(at, Some(i as u64 * 10));
    }
    assert_eq!(layout.time_at(15), Some(Duration::from_secs(3)));
    assert_eq!(layout.byte_at(Duration::from_millis(4500)), Some(20));
    // Nothing is placed while a new run waits to be taken.
    layout.lock().seek = Some(SeekRequest { sequence: 0 });
    assert_eq!(layout.place(entry(6, Piece::Segment(3)), false, None), None);
    layout.release_before(Duration::from_secs(5), Duration::from_secs(60));
    let st = layout.lock();
    assert!(st.entries[0].res.failure().is_some());
    assert!(st.entries[1].res.failure().is_some());
    assert!(st.entries[2].res.failure().is_none());
}

#[test]
fn boundaries_name_the_init_section_the_bytes_after_them_need() {
    let layout = Layout::default();
    let v = |variant: usize, piece: Piece, kind: Option<BoundaryKind>| {
        let mut e = entry(0, piece);
        e.variant = variant;
        layout.place(e, variant < 2, kind.map(|k| (k, None)))
    };
    assert_eq!(v(0, Piece::Init, Some(BoundaryKind::Init)), Some(0));
    v(0, Piece::Segment(0), None);
    // A discontinuity that re-uses the variant's init section laid out before it.
    v(0, Piece::Segment(1), Some(BoundaryKind::Discontinuity));
    // A switch that starts with the new variant's own init section.
    v(1, Piece::Init, Some(BoundaryKind::VariantSwitch));
    v(1, Piece::Segment(2), None);
    // A variant without init sections.
    v(2, Piece::Segment(3), Some(BoundaryKind::VariantSwitch));
    let st = layout.lock();
    let inits: Vec<_> = st
        .boundaries
        .iter()
        .map(|b| (b.pos, b.init.clone()))
        .collect();
    assert_eq!(
        inits,
        vec![
            (0, Some(0..10)),
            (20, Some(0..10)),
            (30, Some(30..40)),
            (50, None)
        ]
    );
    assert_eq!(st.entries[4].init, Some(30..40));
    assert_eq!(st.init_before(45, 1), Some(30..40));
    assert_eq!(st.init_before(45, 2), None);
}
