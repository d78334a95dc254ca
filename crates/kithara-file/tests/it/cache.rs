//! The persistent cache under `Stream<File>`: resume with ranges only, changed versions, offline
//! replay, eviction with a pinned stream, damaged indexes.

use std::time::Duration;

use kithara_file::{FileEvent, StorageKind};
use kithara_storage::{AssetKey, AssetStore, AssetStoreConfig};
use kithara_stream::{dl::RetryPolicy, Source};
use kithara_test_support::{payload, Route};
use tokio::sync::broadcast;

use crate::common::*;

pub fn store(
    dir: &std::path::Path,
    f: impl FnOnce(AssetStoreConfig) -> AssetStoreConfig,
) -> AssetStore {
    AssetStore::new(f(AssetStoreConfig::builder().dir(dir).build())).expect("cache opens")
}

/// Parses the start of a `bytes=N-` / `bytes=N-M` header.
fn range_start(r: &str) -> u64 {
    r.trim_start_matches("bytes=")
        .split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected Range {r:?}"))
}

fn drain(rx: &mut broadcast::Receiver<FileEvent>) -> Vec<FileEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_read_then_reopen_fetches_only_the_missing_half() {
    let body = payload(32 * MIB, 40);
    let server = server();
    server.route("/a.bin", Route::new(body.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |c| c);
    let dl = downloader();

    // Session 1: read the first half with a bounded read-ahead, then drop everything.
    let s = open(&dl, server.url("/a.bin"), |c| {
        c.options.storage = Some(StorageKind::Cache(cache.clone()));
        c.buffer_ahead = Some(MIB as u64);
    })
    .await
    .unwrap();
    let (s, got) = read_at(s, 0, 16 * MIB).await;
    assert!(got.unwrap() == body[..16 * MIB], "first half differs");
    close_cached(s).await;
    drop(cache);

    // Session 2, a new store on the same directory: only Range requests past what is cached.
    server.clear_log();
    let cache = store(tmp.path(), |c| c);
    let (tx, mut rx) = broadcast::channel(64);
    let s = open(&dl, server.url("/a.bin"), |c| {
        c.options.storage = Some(StorageKind::Cache(cache.clone()));
        c.options.events = Some(tx.clone());
    })
    .await
    .unwrap();
    let present = match drain(&mut rx).first() {
        Some(FileEvent::FromCache {
            present,
            total,
            revalidating,
        }) => {
            assert_eq!(*total, Some(body.len() as u64));
            assert!(revalidating);
            *present
        }
        other => panic!("expected FromCache first, got {other:?}"),
    };
    assert!(
        present >= 16 * MIB as u64 && present < body.len() as u64,
        "{present}"
    );
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body, "bytes differ after resuming");
    close_cached(s).await;
    let reqs = server.requests();
    assert!(!reqs.is_empty());
    let mut sent = 0;
    for r in &reqs {
        let range = r.range.as_deref().expect("every request is ranged");
        assert!(
            range_start(range) >= present,
            "{range} re-fetches cached bytes"
        );
        assert_eq!(r.status, 206);
        assert!(r.if_range.is_some(), "resuming validates with If-Range");
        sent += r.bytes_sent;
    }
    assert_eq!(
        sent,
        body.len() as u64 - present,
        "only the missing bytes travel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_version_of_a_complete_copy_is_fetched_again() {
    let old = payload(4 * MIB, 41);
    let new = payload(4 * MIB, 42);
    let server = server();
    server.route("/a.bin", Route::new(old.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |c| c);
    let dl = downloader();
    let s = open(&dl, server.url("/a.bin"), |c| {
        c.options.storage = Some(StorageKind::Cache(cache.clone()));
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == old);
    close_cached(s).await;

    // Another version on the server, then back to the first one served without ranges.
    for (route, body) in [
        (Route::new(new.clone()), &new),
        (Route::new(old.clone()).no_range(), &old),
    ] {
        server.route("/a.bin", route);
        let (tx, mut rx) = broadcast::channel(64);
        let s = open(&dl, server.url("/a.bin"), |c| {
            c.options.storage = Some(StorageKind::Cache(cache.clone()));
            c.options.events = Some(tx.clone());
        })
        .await
        .unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == *body, "the server's version is read whole");
        close_cached(s).await;
        let events = drain(&mut rx);
        assert!(
            events.iter().any(|e| matches!(e, FileEvent::VersionChanged { discarded, .. } if *discarded == 4 * MIB as u64)),
            "{events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_copy_of_an_old_version_is_never_mixed() {
    let old = payload(4 * MIB, 43);
    let new = payload(4 * MIB, 44);
    let server = server();
    server.route("/a.bin", Route::new(old.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |c| c);
    let dl = downloader();
    for (route, label) in [
        (Route::new(new.clone()), "206 refused by If-Range"),
        (
            Route::new(new.clone()).no_range(),
            "200 to a ranged request",
        ),
    ] {
        server.route("/a.bin", Route::new(old.clone()));
        let s = open(&dl, server.url("/a.bin"), |c| {
            c.options.storage = Some(StorageKind::Cache(cache.clone()));
            c.buffer_ahead = Some(MIB as u64);
        })
        .await
        .unwrap();
        let (s, got) = read_at(s, 0, MIB).await;
        assert!(got.unwrap() == old[..MIB]);
        close_cached(s).await;

        server.route("/a.bin", route);
        let (tx, mut rx) = broadcast::channel(64);
        let s = open(&dl, server.url("/a.bin"), |c| {
            c.options.storage = Some(StorageKind::Cache(cache.clone()));
            c.options.events = Some(tx.clone());
        })
        .await
        .unwrap();
        let (s, got) = read_all(s).await;
        assert!(
            got.unwrap() == new,
            "{label}: bytes of two versions were mixed"
        );
        close_cached(s).await;
        let events = drain(&mut rx);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, FileEvent::VersionChanged { .. })),
            "{label}: {events:?}"
        );
        cache.clear().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_copy_replays_offline() {
    let body = payload(2 * MIB, 45);
    let server = server();
    server.route(
        "/a.bin",
        Route::new(body.clone()).content_type("audio/mpeg"),
    );
    let url = server.url("/a.bin");
    let tmp = tempfile::tempdir().unwrap();
    let dl = downloader_with(|mut c| {
        c.retry = RetryPolicy::builder()
            .max_attempts(1)
            .initial_backoff(Duration::from_millis(1))
            .build();
        c
    });
    let online = store(tmp.path(), |c| c);
    let s = open(&dl, url.clone(), |c| {
        c.options.storage = Some(StorageKind::Cache(online.clone()));
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close_cached(s).await;

    // Online, not fresh: one HEAD confirms the version and nothing else travels.
    server.clear_log();
    let s = open(&dl, url.clone(), |c| {
        c.options.storage = Some(StorageKind::Cache(online.clone()));
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close_cached(s).await;
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].method, http::Method::HEAD);
    drop(online);

    // Offline-first: no request at all.
    server.clear_log();
    let offline = store(tmp.path(), |mut c| {
        c.offline_first = true;
        c
    });
    let s = open(&dl, url.clone(), |c| {
        c.options.storage = Some(StorageKind::Cache(offline.clone()));
    })
    .await
    .unwrap();
    assert_eq!(
        s.source().media_info(),
        kithara_stream::MediaInfo::from_mime("audio/mpeg"),
        "the content type comes from the cache"
    );
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close_cached(s).await;
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // The server is gone: offline-first still reads everything; with revalidation the failed
    // HEAD falls back to the cached copy, with an event.
    drop(server);
    let s = open(&dl, url.clone(), |c| {
        c.options.storage = Some(StorageKind::Cache(offline.clone()));
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close_cached(s).await;
    drop(offline);
    let revalidating = store(tmp.path(), |c| c);
    let (tx, mut rx) = broadcast::channel(64);
    let s = open(&dl, url, |c| {
        c.options.storage = Some(StorageKind::Cache(revalidating.clone()));
        c.options.events = Some(tx.clone());
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close_cached(s).await;
    let events = drain(&mut rx);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, FileEvent::RevalidationFailed(_))),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_keeps_recent_assets_and_the_open_one() {
    let server = server();
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |mut c| {
        c.max_size = 10 * MIB as u64;
        c
    });
    let dl = downloader();
    let bodies: Vec<_> = (0..5).map(|i| payload(4 * MIB, 50 + i)).collect();
    for (i, b) in bodies.iter().enumerate() {
        server.route(&format!("/{i}.bin"), Route::new(b.clone()));
    }
    // The first asset stays open (pinned) while the others are cached after it.
    let pinned = open(&dl, server.url("/0.bin"), |c| {
        c.options.storage = Some(StorageKind::Cache(cache.clone()));
    })
    .await
    .unwrap();
    let (pinned, got) = read_all(pinned).await;
    assert!(got.unwrap() == bodies[0]);
    for (i, b) in bodies.iter().enumerate().skip(1) {
        let s = open(&dl, server.url(&format!("/{i}.bin")), |c| {
            c.options.storage = Some(StorageKind::Cache(cache.clone()));
        })
        .await
        .unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == *b);
        close_cached(s).await;
    }
    assert!(cache.wait_for_eviction(PATIENCE));
    // Nothing is removed while the evictor might still be catching up with the last asset.
    cache.gc(cache.config().max_size).unwrap();
    let ids: Vec<_> = cache.list().unwrap().into_iter().map(|e| e.id).collect();
    let id = |i: usize| AssetKey::new(&server.url(&format!("/{i}.bin"))).id();
    assert!(ids.contains(&id(0)), "the open asset was evicted");
    assert!(ids.contains(&id(4)), "the most recent asset was evicted");
    assert!(
        !ids.contains(&id(1)) && !ids.contains(&id(2)),
        "old assets survived: {ids:?}"
    );
    assert!(cache.total_size().unwrap() <= 10 * MIB as u64);
    close_cached(pinned).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_index_means_fetch_again() {
    let body = payload(2 * MIB, 46);
    let server = server();
    server.route("/a.bin", Route::new(body.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |mut c| {
        c.offline_first = true;
        c
    });
    let dl = downloader();
    let s = open(&dl, server.url("/a.bin"), |c| {
        c.options.storage = Some(StorageKind::Cache(cache.clone()));
    })
    .await
    .unwrap();
    let (s, _) = read_all(s).await;
    close_cached(s).await;
    drop(cache);
    let idx: Vec<_> = walk(tmp.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    assert_eq!(idx.len(), 1);
    for damage in [&b"garbage"[..], &[]] {
        std::fs::write(&idx[0], damage).unwrap();
        server.clear_log();
        let cache = store(tmp.path(), |mut c| {
            c.offline_first = true;
            c
        });
        let s = open(&dl, server.url("/a.bin"), |c| {
            c.options.storage = Some(StorageKind::Cache(cache.clone()));
        })
        .await
        .unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == body);
        close_cached(s).await;
        let reqs = server.requests();
        assert!(!reqs.is_empty(), "a damaged index must not be trusted");
        assert_eq!(reqs[0].range.as_deref().map(range_start).unwrap_or(0), 0);
    }
}

/// Makes everything the stream cached durable, then closes it: with nothing left for its flusher
/// thread to sync, the drop releases the asset at once, so the next open (or `gc`) finds it free
/// and no background flush rewrites an index the test then damages.
async fn close_cached(s: kithara_stream::Stream<kithara_file::File>) {
    s.source().storage().unwrap().flush_cache().unwrap();
    close(s).await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
