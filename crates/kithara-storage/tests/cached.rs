//! Cache-backed storage: seeded from the index, records what is written, discards on demand.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kithara_storage::{
    AssetKey, AssetStore, AssetStoreConfig, StorageKind, StorageResource, Validator, WaitOutcome,
};

fn key() -> AssetKey {
    AssetKey::new(&"http://127.0.0.1:1/a.bin".parse().unwrap())
}

fn store(dir: &std::path::Path) -> AssetStore {
    AssetStore::new(
        AssetStoreConfig::builder()
            .dir(dir)
            .record_batch(4)
            .background_eviction(false)
            .build(),
    )
    .unwrap()
}

#[test]
fn reopened_resource_starts_from_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let kind = StorageKind::Cache(store.clone());
    let res = kind.create_for(&key()).unwrap();
    assert!(res.writes_block());
    res.set_len(10).unwrap();
    res.set_validator(Validator::new(Some("\"v1\"".into()), None).unwrap())
        .unwrap();
    res.set_content_type(Some("audio/mpeg".into()));
    res.write_at(0, b"hello").unwrap();
    drop(res);

    let res = kind.create_for(&key()).unwrap();
    assert_eq!(res.len(), Some(10));
    assert_eq!(res.covered(), 5);
    assert_eq!(res.validator().and_then(|v| v.etag), Some("\"v1\"".into()));
    assert_eq!(res.content_type().as_deref(), Some("audio/mpeg"));
    let mut buf = [0u8; 16];
    assert_eq!(res.read_at(0, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert!(!res.can_skip_revalidation());
    // A second writer in this process does not share the asset: it streams uncached.
    let other = kind.create_for(&key()).unwrap();
    assert!(other.asset().is_none());
    drop(other);
    res.write_at(5, b"world").unwrap();
    assert!(res.is_complete());
    drop(res);

    let res = kind.create_for(&key()).unwrap();
    assert!(res.is_complete());
    assert_eq!(
        res.wait_range(0..10, Duration::ZERO).unwrap(),
        WaitOutcome::Ready
    );
    assert_eq!(res.read_at(0, &mut buf).unwrap(), 10);
    assert_eq!(&buf[..10], b"helloworld");

    // A changed version: everything is dropped, on disk too.
    let fresh = res.discard_cached().unwrap();
    assert!(res.is_cancelled());
    assert_eq!(
        (fresh.len(), fresh.covered(), fresh.validator()),
        (None, 0, None)
    );
    drop((res, fresh));
    let res = kind.create_for(&key()).unwrap();
    assert_eq!((res.len(), res.covered()), (None, 0));
}

#[test]
fn standalone_asset_keeps_its_index_beside_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let part = tmp.path().join("song.mp3.part");
    let asset = AssetStore::open_standalone(&key(), &part).unwrap();
    let res = StorageResource::cached(asset).unwrap();
    res.set_len(8).unwrap();
    res.write_at(0, b"abcd").unwrap();
    // Durable now, so the drop closes the asset at once (else its flusher does, in the background).
    res.flush_cache().unwrap();
    drop(res);
    assert!(tmp.path().join("song.mp3.part.idx").exists());

    let asset = AssetStore::open_standalone(&key(), &part).unwrap();
    // A second writer of the same file is refused at once.
    assert!(AssetStore::open_standalone(&key(), &part).is_err());
    assert_eq!(asset.index().present().covered(), 4);
    drop(asset);

    // Another URL's index does not apply: the file starts again.
    let other = AssetKey::new(&"http://127.0.0.1:1/b.bin".parse().unwrap());
    let asset = AssetStore::open_standalone(&other, &part).unwrap();
    assert_eq!(asset.index().present().covered(), 0);
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 0);
}

#[test]
fn a_waiting_open_gets_the_asset_once_its_holder_lets_go() {
    let tmp = tempfile::tempdir().unwrap();
    let part = tmp.path().join("song.mp3.part");
    let holder = AssetStore::open_standalone(&key(), &part).unwrap();
    // Held in this process: a plain open fails at once, a waiting one until its deadline.
    assert!(matches!(
        AssetStore::open_standalone(&key(), &part),
        Err(kithara_storage::CacheError::Busy { .. })
    ));
    assert!(matches!(
        AssetStore::open_standalone_waiting(&key(), &part, Duration::from_millis(30)),
        Err(kithara_storage::CacheError::Busy { .. })
    ));
    let waiter = {
        let part = part.clone();
        std::thread::spawn(move || {
            AssetStore::open_standalone_waiting(&key(), &part, Duration::from_secs(30))
        })
    };
    drop(holder);
    assert!(waiter.join().unwrap().is_ok());

    let store = store(tmp.path());
    let held = store.open(&key()).unwrap();
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || store.open_waiting(&key(), Duration::from_secs(30)))
    };
    drop(held);
    assert!(waiter.join().unwrap().is_ok());
}
