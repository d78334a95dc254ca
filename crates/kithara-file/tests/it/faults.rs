//! Failures: resets, 5xx, missing resources, refused connections, stalls.

use std::{io::Read, time::Duration};

use kithara_file::StorageKind;
use kithara_stream::Error;
use kithara_test_support::{payload, Fault, ResponseEnd, Route};

use crate::common::*;

/// Offset where a `bytes=N-…` range header starts.
fn range_start(h: &Option<String>) -> u64 {
    h.as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_resume_from_the_written_frontier() {
    let server = server();
    let size = 8 * MIB;
    let body = payload(size, 21);
    let chunk = 64 * 1024;
    server.route(
        "/r.bin",
        Route::new(body.clone())
            .chunk_size(chunk)
            .fault(Fault::ResetAfter {
                after: 2 * MIB as u64 + 1234,
                times: 3,
            }),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/r.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body, "bytes differ after resets");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4, "one request plus three retries: {reqs:?}");
    let mut delivered = 0u64;
    for r in &reqs {
        // Each retry starts where the previous responses' bytes ended: nothing is fetched twice
        // except what was in flight when the connection broke.
        let start = range_start(&r.range);
        assert!(
            start <= delivered && delivered - start <= chunk as u64,
            "retry at {start}, frontier {delivered}"
        );
        delivered = start + r.bytes_sent;
    }
    let retries = (reqs.len() - 1) as u64;
    let sent: u64 = reqs.iter().map(|r| r.bytes_sent).sum();
    assert!(
        sent <= size as u64 + retries * chunk as u64,
        "sent {sent} for {size}"
    );
    assert_eq!(
        reqs.iter()
            .filter(|r| r.end == Some(ResponseEnd::Fault))
            .count(),
        3
    );
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_bodies_and_wrong_lengths_are_retried() {
    let server = server();
    let body = payload(2 * MIB, 22);
    server.route(
        "/short.bin",
        Route::new(body.clone()).fault(Fault::ShortBody {
            after: 100_000,
            times: 2,
        }),
    );
    server.route(
        "/wrong.bin",
        Route::new(body.clone()).fault(Fault::WrongContentLength {
            declared: 3 * MIB as u64,
            times: 1,
        }),
    );
    let dl = downloader();
    for path in ["/short.bin"] {
        let s = open(&dl, server.url(path), |c| {
            c.options.storage = Some(StorageKind::Memory)
        })
        .await
        .unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == body, "{path}: bytes differ");
        close(s).await;
    }
    // A declared length that the body never reaches is not mistaken for the end of the file.
    let s = open(&dl, server.url("/wrong.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    // The body stops short of its announced `Content-Length`, then the connection closes. Where
    // the client notices the broken message depends on timing: either every byte arrived (the
    // `Content-Range` total is reached, one request) or the error came first and one resume, with
    // `If-Range`, fetches the rest. Never more, and never wrong bytes.
    assert!(got.unwrap() == body);
    close(s).await;
    let wrong: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/wrong.bin")
        .collect();
    assert!((1..=2).contains(&wrong.len()), "{wrong:?}");
    if let Some(resume) = wrong.get(1) {
        assert!(
            range_start(&resume.range) > 0 && resume.if_range.is_some(),
            "{resume:?}"
        );
    }
    // A `Content-Length` shorter than the range: the body ends early and cleanly, which is not
    // the end of the file; the retry resumes where it stopped.
    server.route(
        "/truncated.bin",
        Route::new(body.clone()).fault(Fault::WrongContentLength {
            declared: MIB as u64,
            times: 1,
        }),
    );
    let s = open(&dl, server.url("/truncated.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == body);
    close(s).await;
    let cut: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/truncated.bin")
        .collect();
    // At least one resume (the early end was not taken for the end of the file), each from
    // where bytes stopped and with `If-Range`. Under load the broken message may also be noticed
    // mid-body, so the first resume need not start exactly at the declared length.
    assert!(cut.len() >= 2, "{cut:?}");
    assert!(
        cut[1..]
            .iter()
            .all(|r| range_start(&r.range) > 0 && r.if_range.is_some()),
        "{cut:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_retried_honouring_retry_after() {
    let server = server();
    let body = payload(MIB, 23);
    server.route(
        "/busy.bin",
        Route::new(body.clone()).fault(Fault::FailFirst {
            count: 2,
            status: 503,
            retry_after: Some(0),
        }),
    );
    server.route(
        "/limit.bin",
        Route::new(body.clone()).fault(Fault::FailFirst {
            count: 1,
            status: 429,
            retry_after: None,
        }),
    );
    let dl = downloader();
    for path in ["/busy.bin", "/limit.bin"] {
        let s = open(&dl, server.url(path), |c| {
            c.options.storage = Some(StorageKind::Memory)
        })
        .await
        .unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == body);
        close(s).await;
    }
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 206, 429, 206]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_fails_at_once_with_status_and_url() {
    let server = server();
    server.route("/missing.mp3", Route::new(Vec::new()).status(404));
    let dl = downloader();
    let url = server.url("/missing.mp3?token=secret");
    let err = open(&dl, url, |_| {}).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    let text = err.to_string();
    assert!(
        text.contains("404") && text.contains("/missing.mp3"),
        "{text}"
    );
    assert!(
        !text.contains("secret"),
        "query strings stay out of errors: {text}"
    );
    assert!(matches!(err, Error::HttpStatus { status: 404, .. }));
    assert_eq!(err.clone().into_io().kind(), std::io::ErrorKind::NotFound);
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_fails_after_the_retry_budget() {
    // Bind then drop a listener: nothing accepts on that port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/gone.mp3?token=secret")).unwrap();
    let dl = downloader();
    let err = open(&dl, url, |_| {}).await.unwrap_err();
    match &err {
        Error::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, dl.config().retry.max_attempts);
            assert!(last.is_connect(), "{last}");
        }
        other => panic!("expected RetriesExhausted, got {other}"),
    }
    assert!(err.is_connect());
    assert!(err
        .to_string()
        .contains(&format!("127.0.0.1:{port}/gone.mp3")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_mid_stream_reaches_the_reader_typed() {
    let server = server();
    let body = payload(2 * MIB, 24);
    // The route disappears (410) while the first request is still streaming.
    server.route(
        "/flaky.bin",
        Route::new(body.clone()).throttle(4 * MIB as u64),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/flaky.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    server.route("/flaky.bin", Route::new(Vec::new()).status(410));
    // Force a new request: jump far ahead of the running one.
    let (s, got) = read_at(s, 2 * MIB as u64 - 10, 10).await;
    let err = got.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(kithara_error(&err).status(), Some(410));
    close(s).await;
}

/// A reader blocked on a stalled body waits out its budget and gets `WaitTimeout` with the range.
/// (That it sleeps rather than spins is measured by `kithara-bench`'s `idle` case: CPU time is
/// not something a test can assert on a busy machine.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_reader_times_out() {
    let server = server();
    let body = payload(4 * MIB, 25);
    server.route(
        "/stall.bin",
        Route::new(body.clone()).fault(Fault::Stall {
            after: 256 * 1024,
            stall: Duration::from_secs(60),
            times: 1,
        }),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/stall.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
        c.options.wait_timeout = Duration::from_secs(1);
    })
    .await
    .unwrap();
    let (s, wall, err) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut first = vec![0u8; 256 * 1024];
        s.read_exact(&mut first).unwrap();
        assert!(first[..] == body[..256 * 1024]);
        let t0 = std::time::Instant::now();
        let mut buf = [0u8; 1024];
        let err = s.read(&mut buf).unwrap_err();
        (s, t0.elapsed(), err)
    })
    .await
    .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    match kithara_error(&err) {
        Error::WaitTimeout { range, .. } => assert_eq!(range.start, 256 * 1024),
        other => panic!("expected WaitTimeout, got {other}"),
    }
    assert!(wall >= Duration::from_secs(1), "the wait used its budget");
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_schemes_fail_at_once() {
    let dl = downloader();
    let url = url::Url::parse("ftp://127.0.0.1:1/song.mp3").unwrap();
    let err = open(&dl, url, |_| {}).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: kithara_stream::TransportKind::Invalid,
                ..
            }
        ),
        "not retried: {err}"
    );
    assert!(
        err.to_string().contains("ftp://127.0.0.1:1/song.mp3"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_mid_stream_is_not_mixed() {
    let server = server();
    let old = payload(4 * MIB, 26);
    server.route("/v.bin", Route::new(old.clone()).throttle(MIB as u64));
    let dl = downloader();
    let s = open(&dl, server.url("/v.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    // The file changes on the server (new ETag); the jump's request sees the new version.
    server.route("/v.bin", Route::new(payload(4 * MIB, 27)));
    let (s, got) = read_at(s, 3 * MIB as u64, 100).await;
    let err = got.unwrap_err();
    match kithara_error(&err) {
        Error::ResourceChanged { before, after, .. } => assert_ne!(before, after),
        other => panic!("expected ResourceChanged, got {other}"),
    }
    // Bytes of the first version that did arrive are still served.
    let (s, head) = read_at(s, 0, 10).await;
    assert_eq!(head.unwrap(), &old[..10]);
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_open_after_the_retry_budget() {
    let server = server();
    server.route(
        "/mute.bin",
        Route::new(payload(1000, 28)).latency(Duration::from_secs(600)),
    );
    let dl = downloader_with(|mut c| {
        // Long enough that a loaded machine never trips it on a server that does answer.
        c.inactivity_timeout = Duration::from_secs(2);
        c.retry.max_attempts = 2;
        c
    });
    let err = open(&dl, server.url("/mute.bin"), |_| {})
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    match &err {
        Error::RetriesExhausted {
            attempts: 2, last, ..
        } => {
            assert!(matches!(**last, Error::Inactivity { .. }), "{last}");
        }
        other => panic!("expected RetriesExhausted, got {other}"),
    }
    assert_eq!(server.requests().len(), 2);
}
