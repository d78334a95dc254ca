//! Random access: seeks into unfetched regions, backward seeks, servers without Range.

use std::{
    io::{Read, Seek, SeekFrom},
    time::Duration,
};

use kithara_file::{File, StorageKind};
use kithara_stream::Stream;
use kithara_test_support::{payload, Fault, Route};
use proptest::prelude::*;

use crate::common::*;

/// Runs `pairs` seek+read pairs through a fresh stream and compares each read with the body.
fn check_pairs(
    rt: &tokio::runtime::Runtime,
    url: &url::Url,
    body: &[u8],
    storage: StorageKind,
    pairs: &[(u64, usize)],
) {
    let dl = downloader();
    let mut s: Stream<File> = rt
        .block_on(open(&dl, url.clone(), |c| {
            c.options.storage = Some(storage)
        }))
        .unwrap();
    for &(pos, len) in pairs {
        let pos = pos % body.len() as u64;
        s.seek(SeekFrom::Start(pos)).unwrap();
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            let n = s.read(&mut buf[got..]).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        let want_end = (pos as usize + len).min(body.len());
        assert_eq!(got, want_end - pos as usize);
        assert!(
            buf[..got] == body[pos as usize..want_end],
            "bytes differ at {pos}+{len}"
        );
    }
    rt.block_on(close(s));
}

fn fixture() -> (
    tokio::runtime::Runtime,
    kithara_test_support::LoopbackServer,
    bytes::Bytes,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = server();
    let body = payload(8 * MIB, 11);
    // Throttled, so most seeks land in bytes that have not arrived yet.
    server.route("/p.bin", Route::new(body.clone()).throttle(16 * MIB as u64));
    (rt, server, body)
}

proptest! {
    // 10 cases × 100 pairs = 1 000 seek+read pairs per storage backend.
    #![proptest_config(ProptestConfig { cases: 10, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_seek_read_pairs_memory(pairs in prop::collection::vec((any::<u64>(), 1usize..70_000), 100)) {
        let (rt, server, body) = fixture();
        check_pairs(&rt, &server.url("/p.bin"), &body, StorageKind::Memory, &pairs);
    }

    #[test]
    fn random_seek_read_pairs_survive_resets(pairs in prop::collection::vec((any::<u64>(), 1usize..70_000), 100)) {
        let (rt, server, body) = fixture();
        // Every one of the first 20 responses breaks after 300 kB.
        server.route(
            "/p.bin",
            Route::new(body.clone()).throttle(16 * MIB as u64).fault(Fault::ResetAfter { after: 300_000, times: 20 }),
        );
        check_pairs(&rt, &server.url("/p.bin"), &body, StorageKind::Memory, &pairs);
    }

    #[test]
    fn random_seek_read_pairs_disk(pairs in prop::collection::vec((any::<u64>(), 1usize..70_000), 100)) {
        let (rt, server, body) = fixture();
        check_pairs(&rt, &server.url("/p.bin"), &body, StorageKind::TempFile, &pairs);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_to_three_quarters_jumps_ahead_of_the_gap() {
    let server = server();
    let size = 32 * MIB;
    let body = payload(size, 12);
    // The sequential download stalls at 1 MiB, so it is nowhere near 75 % when the reader jumps,
    // however slowly the test runs (only the first request stalls).
    server.route(
        "/big.bin",
        Route::new(body.clone())
            .throttle(2 * MIB as u64)
            .fault(Fault::Stall {
                after: MIB as u64,
                stall: Duration::from_secs(60),
                times: 1,
            }),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/big.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let target = (size as u64) * 3 / 4;
    let (s, got) = read_at(s, target, 1).await;
    assert_eq!(got.unwrap(), &body[target as usize..target as usize + 1]);
    // The first byte was served while the gap before it was still missing.
    let storage = s.source().storage().unwrap().clone();
    assert!(
        storage.first_gap(0..target).is_some(),
        "gap before the target was already downloaded"
    );
    let jump = server
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .filter_map(|r| {
            r.strip_prefix("bytes=")
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.parse::<u64>().ok())
        })
        .find(|&start| start > 0);
    let start = jump.expect("a ranged request after the seek");
    assert!(
        start <= target && target - start <= 256 * 1024,
        "range starts at {start}, target {target}"
    );
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_are_filled_after_a_jump_so_the_file_completes() {
    let server = server();
    let body = payload(6 * MIB, 13);
    server.route("/g.bin", Route::new(body.clone()).throttle(24 * MIB as u64));
    let dl = downloader();
    let s = open(&dl, server.url("/g.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let (s, got) = read_at(s, 5 * MIB as u64, 4096).await;
    assert_eq!(got.unwrap(), &body[5 * MIB..5 * MIB + 4096]);
    let storage = s.source().storage().unwrap().clone();
    // Read from the start: everything arrives, including the gap the jump left behind.
    let (s, all) = read_at(s, 0, body.len()).await;
    assert!(all.unwrap() == body);
    let peer = s.source().peer().unwrap().clone();
    tokio::time::timeout(PATIENCE, async {
        while !storage.is_complete() {
            peer.idle().await;
        }
    })
    .await
    .expect("file completes");
    assert!(storage.is_complete());
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_range_serves_seeks_sequentially() {
    let server = server();
    let body = payload(4 * MIB, 14);
    server.route("/nr.bin", Route::new(body.clone()).no_range());
    let dl = downloader();
    let s = open(&dl, server.url("/nr.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    // Forward seek: waits for the sequential download.
    let (s, fwd) = read_at(s, 3 * MIB as u64, 1000).await;
    assert_eq!(fwd.unwrap(), &body[3 * MIB..3 * MIB + 1000]);
    // Backward seek: served from storage.
    let (s, back) = read_at(s, 10, 1000).await;
    assert_eq!(back.unwrap(), &body[10..1010]);
    // SeekFrom::End works once the length is known.
    let (mut s, _) = read_at(s, 0, 0).await;
    let s = tokio::task::spawn_blocking(move || {
        let end = s.seek(SeekFrom::End(-5)).unwrap();
        assert_eq!(end, body.len() as u64 - 5);
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &body[body.len() - 5..]);
        s
    })
    .await
    .unwrap();
    let reqs = server.requests();
    assert!(reqs.iter().all(|r| r.status == 200));
    assert_eq!(reqs.len(), 1, "one sequential request: {reqs:?}");
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_from_end_without_length_is_a_clear_error() {
    let server = server();
    let body = payload(2 * MIB, 15);
    server.route(
        "/u.bin",
        Route::new(body)
            .chunked()
            .unknown_total()
            .throttle(MIB as u64),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/u.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    assert_eq!(s.len(), None);
    let s = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let err = s.seek(SeekFrom::End(-1)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(matches!(
            kithara_error(&err),
            kithara_stream::Error::InvalidSeek { .. }
        ));
        let before = s.seek(SeekFrom::Current(-1)).unwrap_err();
        assert_eq!(before.kind(), std::io::ErrorKind::InvalidInput);
        s
    })
    .await
    .unwrap();
    close(s).await;
}
