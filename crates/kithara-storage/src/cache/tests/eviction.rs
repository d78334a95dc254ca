//! Listing, LRU eviction, pins and the background evictor.

use std::fs;
use std::time::Duration;

use super::*;
use crate::cache::*;

const KIB: u64 = 1024;
/// Asset size and limit, scaled down from "5 × 4 MiB under 10 MiB".
const ASSET: u64 = 400 * KIB;
const LIMIT: u64 = 1000 * KIB;

fn url(n: usize) -> AssetKey {
    key(&format!("http://h/track-{n}.mp3"))
}

/// Caches assets `0..n` completely, in order (so 0 is least recent).
fn cache_all(s: &AssetStore, n: usize) {
    for i in 0..n {
        let a = s.open(&url(i)).unwrap();
        a.set_len(ASSET).unwrap();
        fill(&a, 0..ASSET);
        a.close().unwrap();
    }
}

fn cached(s: &AssetStore) -> Vec<AssetId> {
    let mut v: Vec<AssetId> = s.list().unwrap().into_iter().map(|e| e.id).collect();
    v.sort();
    v
}

fn ids(ns: &[usize]) -> Vec<AssetId> {
    let mut v: Vec<AssetId> = ns.iter().map(|&n| url(n).id()).collect();
    v.sort();
    v
}

#[test]
fn list_reports_size_progress_and_last_use() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    cache_all(&s, 2);
    let a = s.open(&key("http://h/half?token=secret")).unwrap();
    a.set_len(2 * ASSET).unwrap();
    fill(&a, 0..ASSET);
    a.close().unwrap();
    let list = s.list().unwrap();
    assert_eq!(list.len(), 3);
    // Most recent first.
    let half = &list[0];
    assert_eq!(half.label.as_deref(), Some("http://h/half"));
    assert_eq!(half.percent_complete(), Some(50.0));
    assert!(!half.complete && half.present_bytes == ASSET);
    assert!(half.size_on_disk >= ASSET);
    assert_eq!(list[1].id, url(1).id());
    assert!(list[1].complete && list[1].last_access > list[2].last_access);
    assert_eq!(
        s.total_size().unwrap(),
        list.iter().map(|e| e.size_on_disk).sum::<u64>()
    );
}

#[test]
fn gc_keeps_the_most_recently_used_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    cache_all(&s, 5);
    // Using asset 1 again makes it the most recent.
    s.open(&url(1)).unwrap().close().unwrap();
    let report = s.gc(LIMIT).unwrap();
    assert_eq!(report.removed, 3);
    assert_eq!(report.skipped_in_use, 0);
    assert!(report.remaining_bytes <= LIMIT);
    assert_eq!(cached(&s), ids(&[1, 4]));
    assert_eq!(s.total_size().unwrap(), report.remaining_bytes);
    // Evicted assets are gone for good: reopening starts empty.
    assert!(s.open_read_only(&url(0)).unwrap().is_none());
}

#[test]
fn open_and_pinned_assets_survive_in_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let (s, other) = (store(dir.path()), store(dir.path()));
    cache_all(&s, 4);
    let open = s.open(&url(0)).unwrap();
    let pin = s.pin(&url(1)).unwrap();
    let reader = other.open_read_only(&url(2)).unwrap().unwrap();
    // The pinning store skips all three.
    let report = s.gc(0).unwrap();
    assert_eq!((report.removed, report.skipped_in_use), (1, 3));
    assert_eq!(cached(&s), ids(&[0, 1, 2]));
    // Another store (as another process would) sees the open assets 0 and 2
    // through their file locks, but not the bare in-process pin of 1.
    let report = other.gc(0).unwrap();
    assert_eq!((report.removed, report.skipped_in_use), (1, 2));
    assert_eq!(cached(&s), ids(&[0, 2]));
    assert_eq!(pin.id(), url(1).id());
    drop((open, pin, reader));
    let report = s.clear().unwrap();
    assert_eq!(report.removed, 2);
    assert!(s.list().unwrap().is_empty());
    assert_eq!(report.remaining_bytes, 0);
}

#[test]
fn damaged_assets_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    cache_all(&s, 3);
    let idx = s.open(&url(2)).unwrap().data_path().with_extension("idx");
    fs::write(&idx, b"garbage").unwrap();
    let list = s.list().unwrap();
    let bad = list.iter().find(|e| e.id == url(2).id()).unwrap();
    assert_eq!((bad.label.as_deref(), bad.complete), (None, false));
    s.gc(s.total_size().unwrap() - 1).unwrap();
    assert_eq!(cached(&s), ids(&[0, 1]));
}

#[test]
fn background_eviction_bounds_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AssetStoreConfig::builder()
        .dir(dir.path())
        .max_size(LIMIT)
        .record_batch(64 * KIB)
        .build();
    let s = AssetStore::new(cfg).unwrap();
    cache_all(&s, 5);
    assert!(s.wait_for_eviction(Duration::from_secs(30)));
    assert!(s.total_size().unwrap() <= LIMIT);
    assert_eq!(cached(&s), ids(&[3, 4]));
}
