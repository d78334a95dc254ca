//! `Stream::bytes_fetched`: body bytes received over the network, distinct from bytes present.

use kithara_file::File;
use kithara_storage::{AssetStore, AssetStoreConfig};
use kithara_stream::Stream;
use kithara_test_support::{payload, Route};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_fetched_is_what_the_server_sent_and_a_cached_copy_costs_none() {
    let server = server();
    let body = payload(2 * 1024 * 1024 + 7, 5);
    server.route("/w.bin", Route::new(body.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let store = AssetStore::new(AssetStoreConfig::builder().dir(tmp.path()).build()).unwrap();
    let dl = downloader();
    let open = || Stream::<File>::new(cached_config(server.url("/w.bin"), &dl, &store));

    let s = open().await.unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    let peer = s.source().peer().cloned().unwrap();
    tokio::time::timeout(PATIENCE, peer.idle()).await.unwrap();
    let sent: u64 = server.requests().iter().map(|r| r.bytes_sent).sum();
    assert_eq!(sent, body.len() as u64);
    assert_eq!(s.bytes_fetched(), sent, "every byte the server sent, once");
    s.source().storage().unwrap().flush_cache().unwrap();
    close(s).await;

    // The complete cached copy is confirmed with a HEAD: present, and nothing fetched.
    server.clear_log();
    let s = open().await.unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    let sent: u64 = server.requests().iter().map(|r| r.bytes_sent).sum();
    assert_eq!(sent, 0);
    assert_eq!(s.bytes_fetched(), 0);
    assert_eq!(s.len(), Some(body.len() as u64));
    close(s).await;
}
