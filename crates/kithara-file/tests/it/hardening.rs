//! What a misbehaving server must never cause: request loops, mixed versions, a stream that fails
//! at an end it could have known; and redirects across hosts that keep the range.

use std::io::{ErrorKind, Read};

use kithara_file::StorageKind;
use kithara_test_support::{payload, Fault, Route};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_end_answering_mid_file_ranges_with_a_page_costs_one_request() {
    let server = server();
    let body = payload(8 * MIB, 60);
    server.route(
        "/f.mp3",
        Route::new(body.clone())
            .throttle(2 * MIB as u64)
            .ranges_answered_with(&b"<html><body>cache error</body></html>"[..], "text/html"),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/f.mp3"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    // A seek to 75 % restarts the download there; the front end answers with its page.
    let (s, got) = read_at(s, 6 * MIB as u64, 64 * 1024).await;
    let err = got.unwrap_err();
    assert!(kithara_error(&err).is_resource_changed(), "{err}");
    close(s).await;
    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        2,
        "the first request and the one refused: {reqs:?}"
    );
    assert!(reqs[1]
        .range
        .as_deref()
        .is_some_and(|r| r.starts_with("bytes=6291456-")));
    assert_eq!(reqs[1].status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_416_past_an_unknown_end_ends_there_and_earlier_bytes_stay_readable() {
    let server = server();
    let body = payload(MIB, 61);
    server.route(
        "/u.bin",
        Route::new(body.clone())
            .unknown_total()
            .throttle(512 * 1024),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/u.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    assert_eq!(s.len(), None);
    let (s, past) = read_at(s, 2 * MIB as u64, 1000).await;
    assert_eq!(past.unwrap(), b"", "the end is at most where the 416 was");
    let (s, early) = read_at(s, 100_000, 1000).await;
    assert_eq!(early.unwrap(), &body[100_000..101_000]);
    let (s, all) = read_at(s, 0, 2 * MIB).await;
    assert!(all.unwrap() == body, "the whole body, then the end");
    assert_eq!(
        s.len(),
        Some(MIB as u64),
        "the clean end of an open range told the length"
    );
    close(s).await;
    let reqs = server.requests();
    assert!(reqs.iter().any(|r| r.status == 416), "{reqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_that_changes_under_the_same_validator_is_a_changed_resource() {
    let server = server();
    let body = payload(4 * MIB, 62);
    let route = || Route::new(body.clone()).throttle(MIB as u64);
    server.route("/t.bin", route());
    let dl = downloader();
    let s = open(&dl, server.url("/t.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    assert_eq!(s.len(), Some(4 * MIB as u64));
    // Same bytes, same ETag, but the next range claims another total.
    server.route(
        "/t.bin",
        route().fault(Fault::ContentRangeTotal {
            total: 5 * MIB as u64,
            times: 1,
        }),
    );
    let (s, got) = read_at(s, 3 * MIB as u64, 1000).await;
    let err = got.unwrap_err();
    match kithara_error(&err) {
        kithara_stream::Error::ResourceChanged { before, after, .. } => {
            assert_eq!(before, &format!("{} bytes", 4 * MIB));
            assert_eq!(after, &format!("{} bytes", 5 * MIB));
        }
        e => panic!("{e}"),
    }
    close(s).await;
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_that_does_not_match_the_request_fails_the_open() {
    let server = server();
    server.route(
        "/s.bin",
        Route::new(payload(MIB, 63)).fault(Fault::ShiftedRange { by: 5, times: 1 }),
    );
    let dl = downloader();
    let err = open(&dl, server.url("/s.bin"), |_| {}).await.unwrap_err();
    assert!(
        matches!(err, kithara_stream::Error::UnexpectedRange { .. }),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_host_keep_the_range() {
    let (front, cdn) = (server(), server());
    let body = payload(3 * MIB, 64);
    cdn.route("/real.mp3", Route::new(body.clone()).throttle(MIB as u64));
    front.route(
        "/go.mp3",
        Route::new(Vec::new()).redirect(cdn.url("/real.mp3").as_str(), 302),
    );
    let dl = downloader();
    let s = open(&dl, front.url("/go.mp3"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let (s, got) = read_at(s, 2 * MIB as u64, 1000).await;
    assert_eq!(got.unwrap(), &body[2 * MIB..2 * MIB + 1000]);
    close(s).await;
    assert!(front.requests().iter().all(|r| r.status == 302));
    let cdn_reqs = cdn.requests();
    assert!(
        cdn_reqs
            .iter()
            .all(|r| r.status == 206 && r.range.is_some()),
        "{cdn_reqs:?}"
    );
    assert!(
        cdn_reqs.iter().any(|r| r
            .range
            .as_deref()
            .is_some_and(|r| r.starts_with("bytes=2097152-"))),
        "{cdn_reqs:?}"
    );
    assert_eq!(
        front.requests().len(),
        cdn_reqs.len(),
        "one redirect per request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_timed_out_succeeds_once_the_bytes_arrive() {
    let server = server();
    let body = payload(256 * 1024, 65);
    server.route(
        "/late.bin",
        Route::new(body.clone()).fault(Fault::Stall {
            after: 1000,
            stall: std::time::Duration::from_secs(2),
            times: 1,
        }),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/late.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
        c.options.wait_timeout = std::time::Duration::from_millis(200);
    })
    .await
    .unwrap();
    let (s, got) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut head = [0u8; 1000];
        if let Err(e) = s.read_exact(&mut head) {
            return (s, Err(e));
        }
        let mut timeouts = 0;
        let mut rest = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut && timeouts < 100 => timeouts += 1,
                Err(e) => return (s, Err(e)),
            }
        }
        (s, Ok((timeouts, [head.to_vec(), rest].concat())))
    })
    .await
    .unwrap();
    let (timeouts, bytes) = got.unwrap();
    assert!(timeouts >= 1, "the stall outlasted the 200 ms budget");
    assert!(bytes == body);
    close(s).await;
}

/// A `Content-Length` of a petabyte on a 64 KiB body: nothing is allocated for the announced
/// length, the bytes sent are read, and the stream ends there (the `Content-Range` total is the
/// real one) or with an error once the retries find no more, whatever the storage; never a
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_content_length_allocates_nothing_and_ends_in_an_error() {
    let server = server();
    let body = payload(64 * 1024, 61);
    let absurd = Fault::WrongContentLength {
        declared: 1 << 50,
        times: u32::MAX,
    };
    server.route(
        "/absurd.bin",
        Route::new(body.clone()).fault(absurd.clone()),
    );
    // Without range support, the `Content-Length` is all the client learns of the length.
    server.route(
        "/absurd-200.bin",
        Route::new(body.clone()).no_range().fault(absurd),
    );
    let dl = downloader();
    let cases = [StorageKind::Memory, StorageKind::TempFile]
        .into_iter()
        .flat_map(|k| [("/absurd.bin", k.clone()), ("/absurd-200.bin", k)]);
    for (path, storage) in cases {
        let s = open(&dl, server.url(path), |c| {
            c.options.storage = Some(storage.clone());
        })
        .await
        .unwrap();
        let len = body.len();
        let (s, got) = tokio::task::spawn_blocking(move || {
            let mut s = s;
            let mut got = vec![0u8; len];
            s.read_exact(&mut got).unwrap();
            let mut more = [0u8; 16];
            let end = s.read(&mut more);
            (s, (got, end))
        })
        .await
        .unwrap();
        assert!(got.0 == body, "{storage:?}");
        match got.1 {
            Ok(n) => assert_eq!(n, 0, "{storage:?}: the end"),
            Err(e) => assert_ne!(e.kind(), ErrorKind::TimedOut, "{storage:?}: {e}"),
        }
        close(s).await;
    }
}
