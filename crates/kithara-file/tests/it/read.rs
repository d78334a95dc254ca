//! Whole-file reads over every kind of route.

use std::time::Duration;

use kithara_file::{File, FileConfig, StorageKind};
use kithara_stream::{Received, Stream};
use kithara_test_support::{payload, Route};

use crate::common::*;

async fn read_route(route: Route, body: &[u8], storage: StorageKind) {
    let server = server();
    server.route("/a.bin", route);
    let dl = downloader();
    let s = open(&dl, server.url("/a.bin"), |c| {
        c.options.storage = Some(storage)
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    let got = got.unwrap();
    assert_eq!(got.len(), body.len());
    assert!(got == body, "bytes differ");
    assert_eq!(s.len(), Some(body.len() as u64));
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_32mib_is_identical_memory_and_disk() {
    let body = payload(32 * MIB, 1);
    read_route(Route::new(body.clone()), &body, StorageKind::Memory).await;
    read_route(Route::new(body.clone()), &body, StorageKind::TempFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_range_route_is_identical() {
    let body = payload(32 * MIB, 2);
    read_route(
        Route::new(body.clone()).no_range(),
        &body,
        StorageKind::Memory,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_route_without_length_is_identical() {
    let body = payload(32 * MIB, 3);
    read_route(
        Route::new(body.clone()).chunked(),
        &body,
        StorageKind::Memory,
    )
    .await;
    read_route(
        Route::new(body.clone()).chunked().unknown_total(),
        &body,
        StorageKind::TempFile,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_route_is_identical() {
    let body = payload(32 * MIB, 4);
    read_route(
        Route::new(body.clone()).throttle(128 * MIB as u64),
        &body,
        StorageKind::Memory,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_route_is_identical() {
    let body = payload(32 * MIB, 5);
    read_route(
        Route::new(body.clone()).latency(Duration::from_millis(150)),
        &body,
        StorageKind::Memory,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_with_ranges() {
    let server = server();
    let body = payload(3 * MIB, 6);
    // Slow enough that the seek below starts a ranged request behind the redirects.
    server.route(
        "/real.mp3",
        Route::new(body.clone())
            .content_type("audio/mpeg")
            .throttle(MIB as u64),
    );
    server.route("/hop1", Route::new(Vec::new()).redirect("/hop2", 302));
    server.route("/hop2", Route::new(Vec::new()).redirect("/real.mp3", 307));
    let dl = downloader();
    let s = open(&dl, server.url("/hop1"), |c| {
        c.options.storage = Some(StorageKind::Memory)
    })
    .await
    .unwrap();
    assert_eq!(
        s.media_info().and_then(|m| m.codec),
        Some(kithara_stream::AudioCodec::Mp3)
    );
    // A ranged read far into the file also goes through the redirects.
    let (s, got) = read_at(s, 2 * MIB as u64, 1000).await;
    assert_eq!(got.unwrap(), &body[2 * MIB..2 * MIB + 1000]);
    let (s, all) = read_all(s).await;
    assert!(all.unwrap() == body[2 * MIB + 1000..]);
    close(s).await;
    let reqs = server.requests();
    let real: Vec<_> = reqs.iter().filter(|r| r.path == "/real.mp3").collect();
    assert!(
        real.iter().all(|r| r.status == 206 && r.range.is_some()),
        "{real:?}"
    );
    assert!(
        real.iter().any(|r| r
            .range
            .as_deref()
            .is_some_and(|h| h.starts_with("bytes=2097152-"))),
        "the seek's range reached the redirect target: {real:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_redirects_fail_clearly() {
    let server = server();
    server.route("/loop", Route::new(Vec::new()).redirect("/loop", 302));
    let dl = downloader_with(|c| DownloaderConfigExt::redirects(c, 3));
    let err = open(&dl, server.url("/loop"), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("/loop"), "{err}");
    assert!(
        matches!(
            err,
            kithara_stream::Error::Transport {
                kind: kithara_stream::TransportKind::Redirect,
                ..
            }
        ),
        "{err}"
    );
    // Followed three times, then refused: bounded, and really followed.
    assert_eq!(server.requests().len(), 4);
}

trait DownloaderConfigExt {
    fn redirects(self, n: usize) -> Self;
}

impl DownloaderConfigExt for kithara_stream::dl::DownloaderConfig {
    fn redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_are_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.flac");
    let body = payload(MIB + 17, 7);
    std::fs::write(&path, &body).unwrap();
    let s = Stream::<File>::new(FileConfig::local(path).build())
        .await
        .unwrap();
    assert_eq!(s.len(), Some(body.len() as u64));
    assert_eq!(
        s.media_info().and_then(|m| m.container),
        Some(kithara_stream::ContainerFormat::Flac)
    );
    assert!(s.source().storage().is_none(), "no copy into storage");
    let (s, got) = read_at(s, 1000, 5000).await;
    assert_eq!(got.unwrap(), &body[1000..6000]);
    let (_, rest) = read_all(s).await;
    assert_eq!(rest.unwrap(), &body[6000..]);

    let missing = Stream::<File>::new(FileConfig::local(dir.path().join("nope.mp3")).build())
        .await
        .unwrap_err();
    assert!(
        matches!(
            kithara_file::Error::find(&missing),
            Some(kithara_file::Error::LocalIo { op: "open", .. })
        ),
        "{missing}"
    );
    assert!(missing.to_string().contains("nope.mp3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_report_progress_and_completion() {
    let server = server();
    let body = payload(4 * MIB, 8);
    server.route("/e.bin", Route::new(body.clone()).throttle(32 * MIB as u64));
    let dl = downloader();
    let s = open(&dl, server.url("/e.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let mut events = s.events();
    let (s, got) = read_all(s).await;
    assert_eq!(got.unwrap().len(), body.len());
    let mut progress = 0;
    let completed = loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await.unwrap() {
            Some(Received::Event(kithara_file::FileEvent::Progress { downloaded, total })) => {
                assert_eq!(total, Some(body.len() as u64));
                assert!(downloaded <= body.len() as u64);
                progress += 1;
            }
            Some(Received::Event(kithara_file::FileEvent::Completed { total })) => break total,
            other => panic!("unexpected event {other:?}"),
        }
    };
    assert_eq!(completed, body.len() as u64);
    assert!(progress >= 2);
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffer_ahead_limits_what_is_fetched_before_the_reader_needs_it() {
    let server = server();
    let body = payload(8 * MIB, 9);
    server.route("/ba.bin", Route::new(body.clone()));
    let dl = downloader();
    let limit = MIB as u64;
    let s = open(&dl, server.url("/ba.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
        c.buffer_ahead = Some(limit);
    })
    .await
    .unwrap();
    let (s, first) = read_at(s, 0, 10).await;
    assert_eq!(first.unwrap(), &body[..10]);
    // The first window completes, and nothing more is asked for while the reader stays put: the
    // peer has settled (nothing queued or running, and nothing woke it since it said so).
    let settled = server
        .wait_until_async(PATIENCE, |reqs, _| {
            !reqs.is_empty() && reqs.iter().all(|r| r.end.is_some())
        })
        .await;
    assert!(settled);
    let peer = s.source().peer().cloned().unwrap();
    tokio::time::timeout(PATIENCE, peer.settled())
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].range.as_deref(), Some("bytes=0-1048575"));
    assert_eq!(server.stats().bytes_sent, limit);
    assert_eq!(
        s.len(),
        Some(body.len() as u64),
        "the window's answer told the length"
    );
    // Reading on pulls further windows, each bounded, until the end.
    let (s, rest) = read_at(s, 10, body.len()).await;
    assert!(rest.unwrap() == body[10..]);
    let reqs = server.requests();
    assert!(
        reqs.len() >= 8,
        "windows of at most {limit} bytes: {reqs:?}"
    );
    assert!(reqs.iter().all(|r| r.bytes_sent <= limit));
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_files_open_and_end_at_once() {
    let server = server();
    server.route("/empty.mp3", Route::new(Vec::new()));
    let dl = downloader();
    let s = open(&dl, server.url("/empty.mp3"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    assert_eq!(s.len(), Some(0));
    let (s, got) = read_all(s).await;
    assert!(got.unwrap().is_empty());
    assert!(s.source().storage().unwrap().is_complete());
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_buffer_ahead_still_reads() {
    let server = server();
    let body = payload(MIB, 10);
    server.route("/z.bin", Route::new(body.clone()));
    let dl = downloader();
    let s = open(&dl, server.url("/z.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
        c.buffer_ahead = Some(0);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close(s).await;
}
