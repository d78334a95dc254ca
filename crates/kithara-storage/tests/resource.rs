//! Behaviour of `StorageResource` on all backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns"
)]

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use kithara_storage::{BackendKind, Error, StorageResource, WaitOutcome};
use proptest::prelude::*;

/// Page size of the memory backend; test offsets straddle it.
const PAGE: u64 = 256 * 1024;
const LONG: Duration = Duration::from_secs(30);

/// A resource of every backend; the tempdir keeps the disk file alive.
fn backends() -> Vec<(StorageResource, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let disk = StorageResource::disk(dir.path().join("res.bin")).unwrap();
    vec![
        (StorageResource::memory(), None),
        (StorageResource::temp_file().unwrap(), None),
        (disk, Some(dir)),
    ]
}

/// Deterministic pseudo-random bytes (xorshift), `len` long.
fn body(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn read_all(res: &StorageResource, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = res.read_at(offset, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[derive(Debug, thiserror::Error)]
#[error("test failure {0}")]
struct TestError(u32);

#[test]
fn kinds() {
    let kinds: Vec<_> = backends().iter().map(|(r, _)| r.kind()).collect();
    assert_eq!(
        kinds,
        vec![BackendKind::Memory, BackendKind::Disk, BackendKind::Disk]
    );
    let dbg = format!("{:?}", StorageResource::memory());
    assert!(dbg.contains("Memory") && dbg.contains("covered"), "{dbg}");
}

#[test]
fn round_trip_across_page_boundaries() {
    for (res, _dir) in backends() {
        let data = body(3 * PAGE as usize + 1234, 7);
        let total = data.len() as u64;
        res.set_len(total).unwrap();
        // Chunks that do not align with pages.
        for (i, chunk) in data.chunks(100_003).enumerate() {
            res.write_at(i as u64 * 100_003, chunk).unwrap();
        }
        assert!(res.is_complete());
        assert_eq!(res.covered(), total);
        assert_eq!(read_all(&res, 0, data.len() + 10), data);
        let from = PAGE - 5;
        assert_eq!(read_all(&res, from, 10), &data[from as usize..][..10]);
        assert_eq!(read_all(&res, total, 10), b"");
    }
}

#[test]
fn sparse_writes_leave_gaps_and_reads_stop_at_them() {
    for (res, _dir) in backends() {
        let data = body(4 * PAGE as usize, 11);
        let a = 10..PAGE + 10;
        let b = 3 * PAGE..3 * PAGE + 100;
        res.write_at(a.start, &data[a.start as usize..a.end as usize])
            .unwrap();
        res.write_at(b.start, &data[b.start as usize..b.end as usize])
            .unwrap();
        assert_eq!(res.covered(), PAGE + 100);
        assert_eq!(
            res.ranges().iter().collect::<Vec<_>>(),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(res.first_gap(0..4 * PAGE), Some(0..10));
        assert_eq!(res.first_gap(20..4 * PAGE), Some(PAGE + 10..3 * PAGE));
        assert_eq!(res.contiguous_end(20), Some(PAGE + 10));
        assert_eq!(res.contiguous_end(5), None);
        assert_eq!(res.next_present_start(PAGE + 10), Some(3 * PAGE));
        assert_eq!(res.next_present_start(3 * PAGE + 100), None);
        // Not present: nothing is read.
        assert_eq!(read_all(&res, 0, 100), b"");
        assert_eq!(read_all(&res, PAGE + 10, 100), b"");
        // Only the contiguous committed run is read.
        assert_eq!(
            read_all(&res, 10, 2 * PAGE as usize),
            &data[a.start as usize..a.end as usize]
        );
        assert_eq!(
            read_all(&res, b.start + 50, 1000),
            &data[b.start as usize + 50..b.end as usize]
        );
        assert!(!res.is_complete());
    }
}

#[test]
fn rewriting_present_bytes_does_not_change_them() {
    for (res, _dir) in backends() {
        let data = body(PAGE as usize + 500, 3);
        res.write_at(100, &data[100..200]).unwrap();
        res.write_at(PAGE, &data[PAGE as usize..PAGE as usize + 100])
            .unwrap();
        // Overwrite everything with garbage: only the gaps take it.
        let garbage = vec![0xAA; data.len()];
        res.write_at(0, &garbage).unwrap();
        assert_eq!(res.ranges().range_count(), 1);
        let got = read_all(&res, 0, data.len());
        assert_eq!(got.len(), data.len());
        assert_eq!(&got[100..200], &data[100..200]);
        assert_eq!(
            &got[PAGE as usize..PAGE as usize + 100],
            &data[PAGE as usize..PAGE as usize + 100]
        );
        assert!(got[..100].iter().all(|&b| b == 0xAA));
        assert!(got[200..PAGE as usize].iter().all(|&b| b == 0xAA));
        // Exact re-write of a present range is a no-op.
        res.write_at(0, &data[..10]).unwrap();
        assert_eq!(read_all(&res, 0, 10), vec![0xAA; 10]);
    }
}

#[test]
fn wait_ready_after_writer_thread() {
    for (res, _dir) in backends() {
        let data = body(2 * PAGE as usize, 5);
        let writer = res.clone();
        let payload = data.clone();
        let handle = thread::spawn(move || {
            for (i, chunk) in payload.chunks(40_000).enumerate().rev() {
                writer.write_at(i as u64 * 40_000, chunk).unwrap();
            }
            writer.set_len(payload.len() as u64).unwrap();
        });
        assert!(matches!(
            res.wait_range(0..data.len() as u64, LONG),
            Ok(WaitOutcome::Ready)
        ));
        assert_eq!(read_all(&res, 0, data.len()), data);
        // Past the end, once the writer has set the length.
        assert!(matches!(
            res.wait_range(data.len() as u64..u64::MAX, LONG),
            Ok(WaitOutcome::Eof)
        ));
        handle.join().unwrap();
    }
}

#[test]
fn wait_end_is_clamped_to_len_and_empty_ranges() {
    let res = StorageResource::memory();
    assert!(matches!(
        res.wait_range(5..5, Duration::ZERO),
        Ok(WaitOutcome::Ready)
    ));
    res.set_len(10).unwrap();
    res.write_at(4, b"456789").unwrap();
    assert!(matches!(
        res.wait_range(4..1000, Duration::ZERO),
        Ok(WaitOutcome::Ready)
    ));
    assert!(matches!(
        res.wait_range(9..9, Duration::ZERO),
        Ok(WaitOutcome::Ready)
    ));
    assert!(matches!(
        res.wait_range(10..10, Duration::ZERO),
        Ok(WaitOutcome::Eof)
    ));
    assert!(matches!(
        res.wait_range(10..11, Duration::ZERO),
        Ok(WaitOutcome::Eof)
    ));
    assert!(matches!(
        res.wait_range(0..4, Duration::ZERO),
        Err(Error::TimedOut { .. })
    ));
}

#[test]
fn wait_times_out() {
    let res = StorageResource::memory();
    res.write_at(0, b"abc").unwrap();
    let out = res.wait_range(0..4, Duration::from_millis(50));
    assert!(matches!(out, Err(Error::TimedOut { .. })), "{out:?}");
}

#[test]
fn wait_eof_when_len_reached() {
    let res = StorageResource::memory();
    let writer = res.clone();
    let handle = thread::spawn(move || writer.set_len(0).unwrap());
    assert!(matches!(res.wait_range(0..100, LONG), Ok(WaitOutcome::Eof)));
    handle.join().unwrap();
    assert!(res.is_complete());
}

#[test]
fn wait_failed_carries_cause_but_present_bytes_stay_ready() {
    for (res, _dir) in backends() {
        res.write_at(0, b"early").unwrap();
        let writer = res.clone();
        let handle = thread::spawn(move || writer.fail(Arc::new(TestError(42))));
        match res.wait_range(0..100, LONG) {
            Err(Error::Failed(cause)) => {
                let e = cause.downcast_ref::<TestError>().expect("test error");
                assert_eq!(e.0, 42);
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        handle.join().unwrap();
        // First failure wins.
        res.fail(Arc::new(TestError(7)));
        let cause = res.failure().unwrap();
        assert_eq!(cause.downcast_ref::<TestError>().unwrap().0, 42);
        // Ready beats Failed; bytes are still served.
        assert!(matches!(res.wait_range(0..5, LONG), Ok(WaitOutcome::Ready)));
        assert_eq!(read_all(&res, 0, 10), b"early");
        // Writes after a failure are stored.
        res.write_at(5, b"late").unwrap();
        assert_eq!(read_all(&res, 0, 10), b"earlylate");
    }
}

#[test]
fn cancel_wakes_blocked_waiter() {
    let res = StorageResource::memory();
    let reader = res.clone();
    let handle = thread::spawn(move || reader.wait_range(0..10, LONG));
    // The waiter may or may not be blocked yet; either way it must see Cancelled.
    res.cancel();
    assert!(matches!(handle.join().unwrap(), Err(Error::Cancelled)));
    assert!(res.is_cancelled());
    assert!(matches!(res.write_at(0, b"x"), Err(Error::Cancelled)));
    assert!(matches!(res.set_len(5), Err(Error::Cancelled)));
    // Cancelled beats Ready and Eof.
    assert!(matches!(res.wait_range(0..0, LONG), Err(Error::Cancelled)));
}

#[test]
fn cancel_wakes_many_waiters() {
    let res = StorageResource::memory();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let r = res.clone();
            thread::spawn(move || r.wait_range(i * 10..i * 10 + 5, LONG))
        })
        .collect();
    res.write_at(0, b"01234").unwrap();
    res.cancel();
    for (i, h) in handles.into_iter().enumerate() {
        let out = h.join().unwrap();
        assert!(
            if i == 0 {
                // 0..5 was written before the cancel: either outcome is right.
                matches!(out, Err(Error::Cancelled) | Ok(WaitOutcome::Ready))
            } else {
                // Never written: only the cancel can end these waits.
                matches!(out, Err(Error::Cancelled))
            },
            "waiter {i}: {out:?}"
        );
    }
}

#[test]
fn an_upper_bound_ends_waits_there_and_keeps_earlier_bytes_fetchable() {
    let res = StorageResource::memory();
    res.write_at(0, b"abcd").unwrap();
    res.set_len_at_most(10).unwrap();
    assert_eq!(res.len(), None);
    assert_eq!(res.end_bound(), Some(10));
    assert!(matches!(res.wait_range(10..20, LONG), Ok(WaitOutcome::Eof)));
    // Before the bound nothing is known yet: a wait there still waits.
    assert!(matches!(
        res.wait_range(4..5, Duration::ZERO),
        Err(Error::TimedOut { .. })
    ));
    // A lower bound wins, a higher one is ignored; bytes already present limit it.
    res.set_len_at_most(8).unwrap();
    res.set_len_at_most(9).unwrap();
    assert_eq!(res.end_bound(), Some(8));
    assert!(matches!(
        res.set_len_at_most(3),
        Err(Error::LengthConflict { .. })
    ));
    // The exact length must respect the bound.
    assert!(matches!(res.set_len(9), Err(Error::LengthConflict { .. })));
    res.write_at(4, b"efg").unwrap();
    res.set_len(7).unwrap();
    assert!(res.is_complete());
    assert!(matches!(res.wait_range(7..8, LONG), Ok(WaitOutcome::Eof)));
}

#[test]
fn validator_is_recorded_once() {
    use kithara_storage::Validator;
    let res = StorageResource::memory();
    assert_eq!(res.validator(), None);
    let v1 = Validator::new(Some("\"v1\"".into()), None).unwrap();
    let v2 = Validator::new(Some("\"v2\"".into()), None).unwrap();
    res.set_validator(v1.clone()).unwrap();
    res.set_validator(v1.clone()).unwrap();
    assert!(matches!(
        res.set_validator(v2),
        Err(Error::ValidatorConflict { .. })
    ));
    assert_eq!(res.validator(), Some(v1));
}

#[test]
fn beyond_end_is_rejected() {
    for (res, _dir) in backends() {
        res.set_len(10).unwrap();
        res.write_at(0, b"0123456789").unwrap();
        match res.write_at(8, b"abc") {
            Err(Error::BeyondEnd {
                offset: 8,
                len: 3,
                total: 10,
            }) => {}
            other => panic!("expected BeyondEnd, got {other:?}"),
        }
        assert!(matches!(
            res.write_at(u64::MAX, b"a"),
            Err(Error::BeyondEnd { .. })
        ));
        assert_eq!(res.covered(), 10);
    }
}

#[test]
fn length_conflicts() {
    let res = StorageResource::memory();
    res.write_at(0, &[1; 100]).unwrap();
    match res.set_len(50) {
        Err(Error::LengthConflict {
            requested: 50,
            known: None,
            present_end: 100,
        }) => {}
        other => panic!("expected LengthConflict, got {other:?}"),
    }
    assert_eq!(res.len(), None);
    res.set_len(200).unwrap();
    res.set_len(200).unwrap();
    assert_eq!(res.len(), Some(200));
    match res.set_len(300) {
        Err(Error::LengthConflict {
            requested: 300,
            known: Some(200),
            present_end: 100,
        }) => {}
        other => panic!("expected LengthConflict, got {other:?}"),
    }
    let msg = res.set_len(1).unwrap_err().to_string();
    assert!(msg.contains("conflicts"), "{msg}");
}

#[test]
fn disk_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("res.bin");
    match StorageResource::disk(&path) {
        Err(e @ Error::Io { op: "create", .. }) => {
            assert!(e.to_string().contains("res.bin"), "{e}");
            assert!(std::error::Error::source(&e).is_some());
        }
        other => panic!("expected Io error, got {other:?}"),
    }
}

#[test]
fn disk_file_is_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("res.bin");
    let res = StorageResource::disk(&path).unwrap();
    res.write_at(3 * PAGE, b"tail").unwrap();
    res.write_at(0, b"head").unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, 3 * PAGE + 4);
    assert_eq!(&bytes[..4], b"head");
    assert_eq!(&bytes[3 * PAGE as usize..], b"tail");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_write_orders_read_back_identically(
        len in 1usize..(PAGE as usize * 2 + 1000),
        seed in any::<u64>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        order_seed in any::<u64>(),
        overlap in 0usize..3000,
    ) {
        let data = body(len, seed);
        let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(len)).collect();
        bounds.extend([0, len]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut pieces: Vec<(usize, usize)> = bounds
            .windows(2)
            .map(|w| (w[0], (w[1] + overlap).min(len)))
            .collect();
        // Shuffle deterministically from order_seed.
        let mut x = order_seed | 1;
        for i in (1..pieces.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pieces.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for (res, _dir) in backends() {
            res.set_len(len as u64).unwrap();
            for &(s, e) in &pieces {
                res.write_at(s as u64, &data[s..e]).unwrap();
            }
            prop_assert!(res.is_complete());
            prop_assert_eq!(res.covered(), len as u64);
            let got = read_all(&res, 0, len);
            prop_assert!(got == data, "read-back differs on {:?}", res.kind());
        }
    }
}
