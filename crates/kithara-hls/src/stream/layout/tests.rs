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
