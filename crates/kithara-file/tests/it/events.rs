//! Every event from the open on is observable through `Stream::events()`, and lag is reported.

use kithara_file::{File, FileConfig, FileEvent, StorageKind};
use kithara_storage::{AssetStore, AssetStoreConfig};
use kithara_stream::{Received, Stream};
use kithara_test_support::{payload, Route};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_of_opening_reach_the_first_receiver() {
    // A local file reports `Completed` while opening, before `Stream::new` resolves.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.flac");
    std::fs::write(&path, payload(1000, 1)).unwrap();
    let s = Stream::<File>::new(FileConfig::local(&path).build())
        .await
        .unwrap();
    let mut first = s.events();
    assert!(matches!(
        first.try_recv(),
        Some(Received::Event(FileEvent::Completed { total: 1000 }))
    ));
    assert!(s.events().try_recv().is_none(), "later receivers start now");

    // A cached file reports `FromCache` while opening.
    let server = server();
    let body = payload(300_000, 2);
    server.route("/c.bin", Route::new(body.clone()));
    let store = AssetStore::new(
        AssetStoreConfig::builder()
            .dir(dir.path().join("cache"))
            .build(),
    )
    .unwrap();
    let dl = downloader();
    let open_cached = || Stream::<File>::new(cached_config(server.url("/c.bin"), &dl, &store));
    let (s, got) = read_all(open_cached().await.unwrap()).await;
    assert!(got.unwrap() == body);
    s.source().storage().unwrap().flush_cache().unwrap();
    close(s).await;
    let s = open_cached().await.unwrap();
    let events: Vec<_> = s.events().drain();
    assert!(
        matches!(
            events.first(),
            Some(Received::Event(FileEvent::FromCache {
                present: 300_000,
                ..
            }))
        ),
        "{events:?}"
    );
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_falls_behind_is_told_how_many_events_it_missed() {
    let server = server();
    let body = payload(4 * 1024 * 1024, 3);
    server.route("/big.bin", Route::new(body.clone()));
    let dl = downloader();
    let mut config = FileConfig::remote(server.url("/big.bin"), dl.clone()).build();
    config.options.events_capacity = 1;
    config.options.storage = Some(StorageKind::Memory);
    let s = Stream::<File>::new(config).await.unwrap();
    let mut events = s.events();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    // The reader can have every byte before the download reports its end: let the fetch finish
    // (and send `Completed`) before the stream is dropped, which would cancel it.
    let peer = s
        .source()
        .peer()
        .cloned()
        .expect("remote stream has a peer");
    tokio::time::timeout(PATIENCE, peer.idle())
        .await
        .expect("the download ends once every byte is in");
    drop(close(s).await);
    // Progress about every MiB and `Completed`: more than the one the channel keeps.
    let mut lagged = 0;
    let mut last = None;
    while let Some(item) = events.recv().await {
        match item {
            Received::Lagged(n) => lagged += n,
            Received::Event(e) => last = Some(e),
            _ => {}
        }
    }
    assert!(lagged > 0, "the lag was reported");
    assert!(
        matches!(last, Some(FileEvent::Completed { total }) if total == body.len() as u64),
        "{last:?}"
    );
}
