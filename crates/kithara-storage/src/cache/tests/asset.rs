//! Opening, recording, crash behaviour, damaged indexes, safe names, keys.

use std::fs;
use std::time::Duration;

use proptest::prelude::*;
use url::Url;

use super::*;
use crate::cache::*;

#[test]
fn records_survive_reopen_with_bytes_and_validators() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let k = key("http://h/a.mp3");
    let a = s.open(&k).unwrap();
    assert!(a.is_writable() && a.index().present().is_empty());
    a.set_len(300_000).unwrap();
    a.set_validators(Validators::new(
        Some("\"v1\"".into()),
        None,
        Some("audio/mpeg".into()),
    ))
    .unwrap();
    fill(&a, 0..100_000);
    fill(&a, 200_000..250_000);
    a.close().unwrap();

    let a = s.open(&k).unwrap();
    let i = a.index();
    assert_eq!(ranges(&a), vec![0..100_000, 200_000..250_000]);
    assert_eq!(i.total_len(), Some(300_000));
    assert_eq!(i.validators().etag.as_deref(), Some("\"v1\""));
    assert_eq!(i.missing(), vec![100_000..200_000, 250_000..300_000]);
    let data = fs::read(a.data_path()).unwrap();
    assert!((0..100_000u64).all(|p| data[p as usize] == pattern(p)));
    assert!(!a.can_skip_revalidation());
    fill(&a, 100_000..200_000);
    fill(&a, 250_000..300_000);
    // Completion flushes at once, without waiting for a batch.
    assert!(a.pending().is_empty() && a.index().is_complete());
    assert_eq!(a.index().percent_complete(), Some(100.0));
}

#[test]
fn recording_is_batched_and_a_crash_loses_only_unflushed_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let k = key("http://h/batch");
    let a = s.open(&k).unwrap();
    for n in 0..3u64 {
        fill(&a, n * 16_384..(n + 1) * 16_384);
    }
    // 48 KiB < 64 KiB batch: nothing durable yet.
    assert!(a.index().present().is_empty());
    assert_eq!(a.pending().covered(), 48 << 10);
    fill(&a, 3 * 16_384..4 * 16_384);
    assert_eq!(ranges(&a), vec![0..65_536]);
    assert!(a.pending().is_empty());
    fill(&a, 65_536..70_000);
    a.abandon();
    let a = s.open(&k).unwrap();
    assert_eq!(ranges(&a), vec![0..65_536]);
}

#[test]
fn refuses_ranges_never_written_or_out_of_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let a = s.open(&key("http://h/x")).unwrap();
    write(&a, 0..1000);
    a.record(0..1000).unwrap();
    a.record(1000..5000).unwrap();
    assert!(matches!(
        a.flush(),
        Err(CacheError::Unwritten { file_len: 1000, .. })
    ));
    assert!(a.index().present().is_empty());
    a.set_len(2000).unwrap();
    assert!(matches!(
        a.record(1500..2500),
        Err(CacheError::InvalidRange { .. })
    ));
    assert!(matches!(
        a.record(7..7),
        Err(CacheError::InvalidRange { .. })
    ));
    assert!(matches!(
        a.set_len(3000),
        Err(CacheError::LengthConflict {
            known: Some(2000),
            ..
        })
    ));
}

#[test]
fn discard_drops_stale_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let k = key("http://h/v");
    let a = s.open(&k).unwrap();
    a.set_len(10_000).unwrap();
    a.set_validators(Validators::new(Some("\"old\"".into()), None, None))
        .unwrap();
    fill(&a, 0..10_000);
    a.discard().unwrap();
    assert!(a.index().present().is_empty() && a.index().total_len().is_none());
    assert_eq!(a.index().validators(), &Validators::default());
    assert_eq!(fs::metadata(a.data_path()).unwrap().len(), 0);
    a.set_len(5).unwrap();
    drop(a);
    assert_eq!(s.open(&k).unwrap().index().total_len(), Some(5));
}

#[test]
fn offline_first_and_freshness_skip_revalidation() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("http://h/fresh");
    {
        let a = store(dir.path()).open(&k).unwrap();
        a.set_len(100).unwrap();
        fill(&a, 0..100);
        a.mark_validated().unwrap();
        assert!(!a.can_skip_revalidation());
    }
    let fresh = AssetStoreConfig::builder()
        .dir(dir.path())
        .background_eviction(false)
        .metadata_freshness(Duration::from_secs(3600))
        .build();
    assert!(AssetStore::new(fresh)
        .unwrap()
        .open(&k)
        .unwrap()
        .can_skip_revalidation());
    let offline = AssetStoreConfig::builder()
        .dir(dir.path())
        .background_eviction(false)
        .offline_first(true)
        .build();
    let a = AssetStore::new(offline)
        .unwrap()
        .open_read_only(&k)
        .unwrap()
        .unwrap();
    assert!(a.can_skip_revalidation() && !a.is_writable());
    assert!(matches!(
        a.record(0..1),
        Err(CacheError::ReadOnly { op: "record", .. })
    ));
    assert!(matches!(a.discard(), Err(CacheError::ReadOnly { .. })));
}

#[test]
fn one_writer_or_many_readers() {
    let dir = tempfile::tempdir().unwrap();
    let (s1, s2) = (store(dir.path()), store(dir.path()));
    let k = key("http://h/shared");
    assert!(s2.open_read_only(&k).unwrap().is_none());
    let w = s1.open(&k).unwrap();
    w.set_len(10).unwrap();
    fill(&w, 0..10);
    assert!(matches!(s2.open(&k), Err(CacheError::Busy { .. })));
    assert!(matches!(s1.open(&k), Err(CacheError::Busy { .. })));
    assert!(matches!(
        s2.open_read_only(&k),
        Err(CacheError::Busy { .. })
    ));
    drop(w);
    let r1 = s2.open_read_only(&k).unwrap().unwrap();
    let r2 = s1.open_read_only(&k).unwrap().unwrap();
    assert!(r1.index().is_complete() && r2.index().is_complete());
    assert!(matches!(s1.open(&k), Err(CacheError::Busy { .. })));
    drop((r1, r2));
    assert!(s2.open(&k).unwrap().index().is_complete());
}

#[test]
fn damaged_index_counts_as_absent_at_every_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let k = key("http://h/corrupt");
    let a = s.open(&k).unwrap();
    a.set_len(1000).unwrap();
    a.set_validators(Validators::new(Some("\"e\"".into()), None, None))
        .unwrap();
    fill(&a, 0..400);
    fill(&a, 600..1000);
    let idx_path = a.data_path().with_extension("idx");
    drop(a);
    let good = fs::read(&idx_path).unwrap();
    for cut in 0..good.len() {
        fs::write(&idx_path, &good[..cut]).unwrap();
        assert!(s.open_read_only(&k).unwrap().is_none(), "cut {cut}");
    }
    // A writer starts over with empty data.
    for cut in [0, 1, good.len() / 2, good.len() - 1] {
        fs::write(&idx_path, &good[..cut]).unwrap();
        let a = s.open(&k).unwrap();
        assert!(a.index().present().is_empty(), "cut {cut}");
        assert_eq!(fs::metadata(a.data_path()).unwrap().len(), 0);
        write(&a, 0..1000);
        drop(a);
    }
    // The intact index is still accepted once its data is back.
    fs::write(&idx_path, &good).unwrap();
    assert_eq!(ranges(&s.open(&k).unwrap()), vec![0..400, 600..1000]);
    // An index naming bytes past the end of the data file is refused.
    let a = s.open(&k).unwrap();
    a.data_file().set_len(500).unwrap();
    drop(a);
    assert!(s.open(&k).unwrap().index().present().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn garbage_index_never_panics(garbage in prop::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let k = key("http://h/g");
        let a = s.open(&k).unwrap();
        fill(&a, 0..1000);
        a.flush().unwrap();
        let idx = a.data_path().with_extension("idx");
        drop(a);
        fs::write(&idx, &garbage).unwrap();
        prop_assert!(s.open_read_only(&k).unwrap().is_none());
        prop_assert!(s.open(&k).unwrap().index().present().is_empty());
        prop_assert!(s.list().is_ok());
    }

    #[test]
    fn no_url_escapes_the_directory(
        path in "[^#?]{0,40}",
        segment in ".{0,40}",
        nasty in prop::sample::select(vec!["../../x", "%2e%2e/%2e%2e/y", "/etc/passwd", "a\u{0}b", "..\\..\\z", "C:\\w"]),
    ) {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("cache");
        let s = store(&cache);
        let mut keys = vec![AssetKey::new(&Url::parse("http://h/").unwrap()).with_segment(format!("{nasty}{segment}"), None)];
        for raw in [format!("http://h/{nasty}{path}"), format!("file:///{nasty}{path}"), format!("http://h/{path}?q={nasty}")] {
            if let Ok(u) = Url::parse(&raw) {
                keys.push(AssetKey::new(&u));
            }
        }
        for k in &keys {
            let a = s.open(k).unwrap();
            fill(&a, 0..10);
            a.close().unwrap();
        }
        // The only entry beside the cache is the cache itself.
        let top: Vec<_> = fs::read_dir(root.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        prop_assert_eq!(top, vec![std::ffi::OsString::from("cache")]);
        for shard in fs::read_dir(cache.join("assets")).unwrap().flatten() {
            for f in fs::read_dir(shard.path()).unwrap().flatten() {
                let name = f.file_name().into_string().unwrap();
                prop_assert!(crate::cache::layout::owner_of(&name).is_some(), "{}", name);
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn directory_and_key_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    let cfg = AssetStoreConfig::builder()
        .dir(&dir)
        .background_eviction(false)
        .cache_keys(true)
        .build();
    let s = AssetStore::new(cfg).unwrap();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let a = s.open(&key("http://h/enc.ts")).unwrap();
    assert!(a.put_key(&[9u8; 16]).unwrap());
    assert_eq!(a.key().unwrap().as_deref(), Some(&[9u8; 16][..]));
    let key_path = a.data_path().with_extension("key");
    assert_eq!(
        fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(a.data_path()).unwrap().permissions().mode() & 0o777,
        0o600
    );
    fs::write(&key_path, b"junk").unwrap();
    assert_eq!(a.key().unwrap(), None);
}

#[test]
fn keys_stay_in_memory_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let a = s.open(&key("http://h/enc.ts")).unwrap();
    assert!(!a.put_key(&[1u8; 16]).unwrap());
    assert_eq!(a.key().unwrap(), None);
    assert!(!a.data_path().with_extension("key").exists());
}

#[test]
fn deferred_recording_leaves_the_sync_to_the_caller() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Asset>();
    shareable::<AssetStore>();
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let a = s.open(&key("http://h/deferred")).unwrap();
    a.set_len(100_000).unwrap();
    write(&a, 0..100_000);
    assert!(!a.record_deferred(0..32_768).unwrap());
    // The batch (64 KiB) is reached: due, but nothing synced yet.
    assert!(a.record_deferred(32_768..70_000).unwrap());
    assert!(a.index().present().is_empty());
    a.flush().unwrap();
    assert_eq!(ranges(&a), vec![0..70_000]);
    // Completion is due at once, whatever the batch.
    assert!(a.record_deferred(70_000..100_000).unwrap());
    a.flush().unwrap();
    assert!(a.index().is_complete());
}

#[derive(Debug, Clone)]
enum Op {
    Write(std::ops::Range<u64>),
    Flush,
    Crash,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..20_000u64, 1..3_000u64).prop_map(|(s, l)| Op::Write(s..s + l)),
        1 => Just(Op::Flush),
        1 => Just(Op::Crash),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Whatever happens, the index names only written bytes, and keeps
    /// everything that was flushed before a crash.
    #[test]
    fn index_never_claims_unwritten_bytes(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AssetStoreConfig::builder().dir(dir.path()).background_eviction(false)
            .record_batch(8_000).build();
        let s = AssetStore::new(cfg).unwrap();
        let k = key("http://h/model");
        let mut a = s.open(&k).unwrap();
        let mut written = crate::RangeSet::new();
        let mut flushed = crate::RangeSet::new();
        let mut unflushed = crate::RangeSet::new();
        for op in ops {
            match op.clone() {
                Op::Write(r) => {
                    fill(&a, r.clone());
                    written.insert(r.clone());
                    unflushed.insert(r);
                }
                Op::Flush => {
                    a.flush().unwrap();
                }
                Op::Crash => {
                    a.abandon();
                    unflushed = crate::RangeSet::new();
                    a = s.open(&k).unwrap();
                }
                Op::Reopen => {
                    a.close().unwrap();
                    a = s.open(&k).unwrap();
                }
            }
            if matches!(op, Op::Flush | Op::Reopen) {
                for r in std::mem::take(&mut unflushed).iter() {
                    flushed.insert(r);
                }
            }
            let present = a.index().present().clone();
            for r in present.iter() {
                prop_assert!(written.contains(r.clone()), "{:?} claimed, never written", r);
            }
            for r in flushed.iter() {
                prop_assert!(present.contains(r.clone()), "{:?} flushed, then lost", r);
            }
        }
        let data = fs::read(a.data_path()).unwrap();
        for r in a.index().present().iter() {
            prop_assert!(r.clone().all(|p| data[p as usize] == pattern(p)));
        }
    }
}
