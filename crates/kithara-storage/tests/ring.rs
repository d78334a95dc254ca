//! The ring backend: bounded memory, back-pressure, the typed error outside the bytes kept, and a
//! model check of random write / read / wait sequences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use kithara_storage::{BackendKind, Error, StorageResource, WaitOutcome};
use proptest::prelude::*;

fn byte(i: u64) -> u8 {
    (i.wrapping_mul(31) % 251) as u8
}

fn body(from: u64, len: u64) -> Bytes {
    (from..from + len).map(byte).collect::<Vec<u8>>().into()
}

#[test]
fn an_endless_body_streams_through_a_small_ring() {
    let res = StorageResource::ring_with(64 * 1024, 8 * 1024);
    assert_eq!(res.kind(), BackendKind::Ring);
    assert!(res.writes_block());
    let writer = res.clone();
    let total: u64 = 4 << 20;
    let handle = std::thread::spawn(move || {
        let mut off = 0;
        while off < total {
            let n = 10_000.min(total - off);
            writer.write_bytes(off, body(off, n)).unwrap();
            off += n;
        }
    });
    let mut pos = 0u64;
    let mut buf = vec![0u8; 7_000];
    let mut max_held = 0;
    while pos < total {
        assert_eq!(
            res.wait_range(pos..pos + 1, Duration::from_secs(30))
                .unwrap(),
            WaitOutcome::Ready
        );
        let n = res.read_at(pos, &mut buf).unwrap();
        assert!(n > 0);
        assert!(buf[..n] == body(pos, n as u64)[..], "bytes at {pos}");
        pos += n as u64;
        max_held = max_held.max(res.covered());
    }
    handle.join().unwrap();
    // Memory stays bounded by the ring, not by the bytes streamed.
    assert!(max_held <= 64 * 1024, "held {max_held}");
    assert_eq!(res.len(), None);
}

#[test]
fn outside_the_ring_is_a_typed_error_and_a_seek_back_inside_gives_the_same_bytes() {
    let res = StorageResource::ring_with(1000, 300);
    let writer = res.clone();
    let handle = std::thread::spawn(move || {
        for i in 0..30u64 {
            writer.write_bytes(i * 100, body(i * 100, 100)).unwrap();
        }
    });
    let mut buf = [0u8; 100];
    let mut pos = 0;
    while pos < 3000 {
        res.wait_range(pos..pos + 1, Duration::from_secs(30))
            .unwrap();
        pos += res.read_at(pos, &mut buf).unwrap() as u64;
    }
    handle.join().unwrap();
    // Up to 300 bytes behind the reader are kept.
    let kept_from = res.ranges().iter().next().unwrap().start;
    assert!(kept_from <= 2700, "kept from {kept_from}");
    assert_eq!(
        res.wait_range(2750..2800, Duration::ZERO).unwrap(),
        WaitOutcome::Ready
    );
    let n = res.read_at(2750, &mut buf).unwrap();
    assert_eq!(&buf[..n], &body(2750, n as u64)[..]);
    match res.wait_range(100..200, Duration::from_secs(5)) {
        Err(Error::Evicted { pos: 100, kept }) => {
            assert_eq!(kept.start, kept_from);
            assert_eq!(kept.end, 3000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(res.read_at(100, &mut buf).unwrap(), 0);
}

#[test]
fn a_full_ring_holds_the_writer_until_the_reader_reads_and_cancel_frees_it() {
    let res = StorageResource::ring_with(100, 0);
    res.write_at(0, &[1u8; 100]).unwrap();
    let writer = res.clone();
    let blocked = std::thread::spawn(move || writer.write_at(100, &[2u8; 50]));
    // The writer cannot land a byte until the reader has read: nothing was dropped.
    let mut buf = [0u8; 60];
    assert_eq!(res.read_at(0, &mut buf).unwrap(), 60);
    res.wait_range(100..150, Duration::from_secs(30)).unwrap();
    blocked.join().unwrap().unwrap();
    // Only bytes the reader passed were dropped for it (at 60 after the read, 100 while waiting).
    let kept = res.ranges().iter().next().unwrap();
    assert_eq!(kept.end, 150);
    assert!(kept.start >= 60, "{kept:?}");
    // The reader waits at 100: bytes 100..200 fill the ring, all unread.
    res.write_at(150, &[3u8; 50]).unwrap();
    assert_eq!(res.ranges().iter().next().unwrap(), 100..200);
    // Full of unread bytes: a cancel frees the waiting writer with `Cancelled`.
    let writer = res.clone();
    let blocked = std::thread::spawn(move || writer.write_at(200, &[4u8; 50]));
    res.cancel();
    assert!(matches!(blocked.join().unwrap(), Err(Error::Cancelled)));
    let mut fresh = [0u8; 50];
    assert_eq!(res.read_at(100, &mut fresh).unwrap(), 50);
    assert_eq!(fresh, [2u8; 50]);
}

#[test]
fn a_write_past_the_head_starts_over_and_the_end_is_known_once_set() {
    let res = StorageResource::ring(1 << 20);
    res.write_at(0, b"hello").unwrap();
    res.write_at(10_000, b"world").unwrap();
    assert_eq!(
        res.ranges().iter().collect::<Vec<_>>(),
        vec![10_000..10_005]
    );
    res.set_len(10_005).unwrap();
    assert_eq!(
        res.wait_range(10_005..10_010, Duration::ZERO).unwrap(),
        WaitOutcome::Eof
    );
    assert!(matches!(
        res.wait_range(0..1, Duration::ZERO),
        Err(Error::Evicted { pos: 0, .. })
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Write(u64),
    Read(u64, usize),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..300).prop_map(Op::Write),
        (0u64..2000, 1usize..300).prop_map(|(o, n)| Op::Read(o, n)),
        (0u64..2000).prop_map(Op::Wait),
    ]
}

/// What the ring should hold: the rules of `ring_with`, byte by byte.
struct Model {
    cap: u64,
    behind: u64,
    start: u64,
    end: u64,
    reader: u64,
}

impl Model {
    /// Appends `n` bytes if that never has to wait; returns whether it did.
    fn write(&mut self, mut n: u64) -> bool {
        let (mut start, end) = (self.start, self.end);
        let mut e = end;
        while n > 0 {
            let room = self.cap - (e - start);
            if room == 0 {
                let floor = self.reader.saturating_sub(self.behind).max(start).min(e);
                if floor == start {
                    return false;
                }
                start = floor;
                continue;
            }
            let take = room.min(n);
            e += take;
            n -= take;
        }
        self.start = start;
        self.end = e;
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn ring_matches_its_model(ops in proptest::collection::vec(op(), 1..80), cap in 50u64..600, behind in 0u64..200) {
        let res = StorageResource::ring_with(cap, behind);
        let mut m = Model { cap, behind: behind.min(cap / 2), start: 0, end: 0, reader: 0 };
        for op in ops {
            match op {
                Op::Write(n) => {
                    let from = m.end;
                    if m.write(n) {
                        res.write_bytes(from, body(from, n)).unwrap();
                    }
                }
                Op::Read(off, len) => {
                    let mut buf = vec![0u8; len];
                    let n = res.read_at(off, &mut buf).unwrap();
                    if off < m.start || off >= m.end {
                        prop_assert_eq!(n, 0);
                    } else {
                        let want = len.min((m.end - off) as usize);
                        prop_assert_eq!(n, want);
                        prop_assert_eq!(&buf[..n], &body(off, n as u64)[..]);
                        m.reader = off + n as u64;
                    }
                }
                Op::Wait(off) => {
                    let got = res.wait_range(off..off + 1, Duration::ZERO);
                    m.reader = off;
                    if off < m.start {
                        prop_assert!(matches!(got, Err(Error::Evicted { pos, .. }) if pos == off), "{:?}", got);
                    } else if off < m.end {
                        prop_assert!(matches!(got, Ok(WaitOutcome::Ready)), "{:?}", got);
                    } else {
                        prop_assert!(matches!(got, Err(Error::TimedOut { .. })), "{:?}", got);
                    }
                }
            }
            let kept: Vec<_> = res.ranges().iter().collect();
            if m.end > m.start {
                prop_assert_eq!(kept, vec![m.start..m.end]);
            } else {
                prop_assert!(kept.is_empty());
            }
            prop_assert!(res.covered() <= cap);
        }
    }
}
