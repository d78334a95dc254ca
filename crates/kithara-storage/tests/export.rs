//! `StorageResource::export_to`: a complete resource written out as a file, an incomplete one
//! refused.
#![allow(clippy::unwrap_used)]

use kithara_storage::{
    AssetKey, AssetStore, AssetStoreConfig, Error, StorageKind, StorageResource,
};

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_complete_cached_asset_is_exported_and_stays_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let store = AssetStore::new(
        AssetStoreConfig::builder()
            .dir(tmp.path().join("cache"))
            .background_eviction(false)
            .build(),
    )
    .unwrap();
    let key = AssetKey::new(&"http://127.0.0.1:1/e.bin".parse().unwrap());
    let kind = StorageKind::Cache(store.clone());
    let data = body(3 << 20 | 5);
    let res = kind.create_for(&key).unwrap();
    res.set_len(data.len() as u64).unwrap();
    let dest = tmp.path().join("out.bin");
    res.write_at(0, &data[..1000]).unwrap();
    assert!(matches!(
        res.export_to(&dest),
        Err(Error::Incomplete {
            present: 1000,
            len: Some(_)
        })
    ));
    assert!(
        !dest.exists(),
        "nothing is written for an incomplete resource"
    );
    res.write_at(1000, &data[1000..]).unwrap();
    assert_eq!(res.export_to(&dest).unwrap(), data.len() as u64);
    assert!(std::fs::read(&dest).unwrap() == data);
    drop(res);
    assert!(store.wait_closed(std::time::Duration::from_secs(5)));

    // The asset is still complete in the cache.
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].percent_complete(), Some(100.0));
    let again = kind.create_for(&key).unwrap();
    assert!(again.is_complete());
}

#[test]
fn memory_and_unknown_length_resources() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("m.bin");
    let res = StorageResource::memory();
    res.write_at(0, b"hello").unwrap();
    assert!(matches!(
        res.export_to(&dest),
        Err(Error::Incomplete {
            present: 5,
            len: None
        })
    ));
    res.set_len(11).unwrap();
    res.write_at(5, b" world").unwrap();
    std::fs::write(&dest, b"an older, longer file").unwrap();
    assert_eq!(res.export_to(&dest).unwrap(), 11);
    assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");
    let empty = StorageResource::memory();
    empty.set_len(0).unwrap();
    assert_eq!(empty.export_to(&dest).unwrap(), 0);
    assert!(std::fs::read(&dest).unwrap().is_empty());
}
