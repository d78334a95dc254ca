//! The shared downloader over the loopback server, driven by a minimal peer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::{
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use kithara_stream::{
    dl::{
        ByteRange, Downloader, DownloaderConfig, FetchCmd, FetchOutcome, Peer, PeerHandle,
        ResponseInfo, RetryPolicy, ThroughputSample,
    },
    Error,
};
use kithara_test_support::{payload, Fault, LoopbackServer, ResponseEnd, Route};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(30);

/// A peer that yields one batch of commands, then is done (or, lingering, stays until cancelled).
struct ListPeer {
    batch: Option<Vec<FetchCmd>>,
    token: CancellationToken,
    linger: bool,
    samples: mpsc::UnboundedSender<ThroughputSample>,
}

impl Peer for ListPeer {
    fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        match self.batch.take() {
            Some(b) => Poll::Ready(Some(b)),
            None if self.linger => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
    fn cancel_token(&self) -> CancellationToken {
        self.token.clone()
    }
    fn on_throughput(&mut self, sample: ThroughputSample) {
        let _ = self.samples.send(sample);
    }
}

/// Collects what one command delivered.
#[derive(Default)]
struct Sink {
    bytes: Mutex<Vec<u8>>,
    offsets_ok: Mutex<bool>,
    responses: Mutex<Vec<ResponseInfo>>,
}

fn downloader(f: impl FnOnce(DownloaderConfig) -> DownloaderConfig) -> Downloader {
    let retry = RetryPolicy::builder()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .build();
    Downloader::new(f(DownloaderConfig::builder()
        .retry(retry)
        .system_proxy(false)
        .build()))
    .expect("the HTTP client builds")
}

/// A GET whose bytes land in a fresh sink (offsets must be contiguous from `start`) and whose outcome goes to `done`.
fn get(
    server: &LoopbackServer,
    path: &str,
    range: Option<ByteRange>,
    parent: &CancellationToken,
    done: &mpsc::UnboundedSender<(String, FetchOutcome)>,
) -> (FetchCmd, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    *sink.offsets_ok.lock().unwrap() = true;
    let start = range.map_or(0, |r| r.start);
    let (w, r) = (sink.clone(), sink.clone());
    let done = done.clone();
    let name = path.to_owned();
    let mut cmd = FetchCmd::get(server.url(path))
        .with_cancel(parent.child_token())
        .writer(move |offset, data| {
            let mut b = w.bytes.lock().unwrap();
            if offset != start + b.len() as u64 {
                *w.offsets_ok.lock().unwrap() = false;
            }
            b.extend_from_slice(&data);
            Ok(())
        })
        .on_response(move |info| {
            r.responses.lock().unwrap().push(info.clone());
            Ok(())
        })
        .on_complete(move |o| {
            done.send((name, o)).unwrap();
        });
    if let Some(range) = range {
        cmd = cmd.with_range(range);
    }
    (cmd, sink)
}

fn register(
    dl: &Downloader,
    cmds: Vec<FetchCmd>,
    token: CancellationToken,
) -> (PeerHandle, mpsc::UnboundedReceiver<ThroughputSample>) {
    register_with(dl, cmds, token, false)
}

fn register_with(
    dl: &Downloader,
    cmds: Vec<FetchCmd>,
    token: CancellationToken,
    linger: bool,
) -> (PeerHandle, mpsc::UnboundedReceiver<ThroughputSample>) {
    let (samples, rx) = mpsc::unbounded_channel();
    let handle = dl.register(ListPeer {
        batch: Some(cmds),
        token,
        linger,
        samples,
    });
    (handle, rx)
}

async fn outcomes(
    rx: &mut mpsc::UnboundedReceiver<(String, FetchOutcome)>,
    n: usize,
) -> Vec<(String, FetchOutcome)> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(
            tokio::time::timeout(PATIENCE, rx.recv())
                .await
                .expect("outcome arrives")
                .unwrap(),
        );
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Runs one GET of `path` through `dl` and returns its outcome and what it delivered, after
/// checking that the peer settles with every completion reported once.
async fn fetch_one(
    dl: &Downloader,
    server: &LoopbackServer,
    path: &str,
) -> (FetchOutcome, Arc<Sink>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (cmd, sink) = get(server, path, None, &token, &tx);
    let (handle, _) = register(dl, vec![cmd], token);
    let mut outs = outcomes(&mut rx, 1).await;
    settle(&handle, &mut rx).await;
    (outs.remove(0).1, sink)
}

async fn settle(handle: &PeerHandle, rx: &mut mpsc::UnboundedReceiver<(String, FetchOutcome)>) {
    tokio::time::timeout(PATIENCE, handle.idle()).await.unwrap();
    assert_eq!(handle.commands_issued(), handle.completions_reported());
    assert!(rx.try_recv().is_err(), "no command completed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_and_full_gets_deliver_exact_bytes() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(3 << 20, 1);
    server.route("/a", Route::new(body.clone()));
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (c1, s1) = get(&server, "/a", None, &token, &tx);
    let (c2, s2) = get(&server, "/a", Some(ByteRange::new(1000, 5000)), &token, &tx);
    let (c3, s3) = get(
        &server,
        "/a",
        Some(ByteRange::from_start(3_000_000)),
        &token,
        &tx,
    );
    let (handle, mut samples) = register_with(&dl, vec![c1, c2, c3], token.clone(), true);
    let outs = outcomes(&mut rx, 3).await;
    assert!(
        outs.iter()
            .all(|(_, o)| matches!(o, FetchOutcome::Completed { .. })),
        "{outs:?}"
    );
    assert!(*s1.bytes.lock().unwrap() == body);
    assert_eq!(&s2.bytes.lock().unwrap()[..], &body[1000..5000]);
    assert_eq!(&s3.bytes.lock().unwrap()[..], &body[3_000_000..]);
    for s in [&s1, &s2, &s3] {
        assert!(*s.offsets_ok.lock().unwrap());
        let r = s.responses.lock().unwrap();
        assert_eq!(r[0].total_len, Some(body.len() as u64));
    }
    // A throughput sample per completed fetch reaches the (still registered) peer.
    let mut sampled = 0;
    for _ in 0..3 {
        sampled += tokio::time::timeout(PATIENCE, samples.recv())
            .await
            .unwrap()
            .unwrap()
            .bytes;
    }
    assert_eq!(
        handle.bytes_fetched(),
        (body.len() + 4000 + body.len() - 3_000_000) as u64
    );
    assert_eq!(sampled, handle.bytes_fetched());
    token.cancel();
    settle(&handle, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_reports_length_from_the_header() {
    let server = LoopbackServer::start().unwrap();
    server.route("/h", Route::new(payload(12345, 2)));
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let info = Arc::new(Mutex::new(None));
    let i2 = info.clone();
    let done = tx.clone();
    let cmd = FetchCmd::head(server.url("/h"))
        .with_cancel(token.child_token())
        .writer(|_, _| panic!("HEAD has no body"))
        .on_response(move |r| {
            *i2.lock().unwrap() = Some(r.clone());
            Ok(())
        })
        .on_complete(move |o| done.send(("h".into(), o)).unwrap());
    let (handle, _) = register(&dl, vec![cmd], token);
    let outs = outcomes(&mut rx, 1).await;
    assert!(matches!(
        outs[0].1,
        FetchOutcome::Completed { bytes: 0, .. }
    ));
    assert_eq!(
        info.lock().unwrap().as_ref().unwrap().total_len,
        Some(12345)
    );
    assert_eq!(server.requests()[0].method, http::Method::HEAD);
    settle(&handle, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_against_a_server_that_ignores_range_skips_written_bytes() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(2 << 20, 3);
    server.route(
        "/nr",
        Route::new(body.clone())
            .no_range()
            .fault(Fault::ResetAfter {
                after: 700_000,
                times: 2,
            }),
    );
    let dl = downloader(|c| c);
    let (outcome, sink) = fetch_one(&dl, &server, "/nr").await;
    assert!(
        matches!(outcome, FetchOutcome::Completed { .. }),
        "{outcome:?}"
    );
    assert!(*sink.bytes.lock().unwrap() == body);
    assert!(
        *sink.offsets_ok.lock().unwrap(),
        "writer saw each byte once, in order"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs[1].range.as_deref() == Some("bytes=700000-"),
        "{reqs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_statuses_fail_once_and_416_names_the_total() {
    let server = LoopbackServer::start().unwrap();
    server.route("/gone", Route::new(Vec::new()).status(410));
    server.route("/forbidden", Route::new(Vec::new()).status(403));
    server.route("/small", Route::new(payload(100, 4)));
    server.route("/small-tail", Route::new(payload(100, 4)));
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (a, _) = get(&server, "/gone", None, &token, &tx);
    let (b, _) = get(&server, "/forbidden", None, &token, &tx);
    let (c, _) = get(
        &server,
        "/small",
        Some(ByteRange::new(500, 600)),
        &token,
        &tx,
    );
    // An open range past the end is just empty: it completes and reports the length.
    let (d, past_end) = get(
        &server,
        "/small-tail",
        Some(ByteRange::from_start(500)),
        &token,
        &tx,
    );
    let (handle, _) = register(&dl, vec![a, b, c, d], token);
    let mut outs = outcomes(&mut rx, 4).await;
    let tail = outs.pop().unwrap();
    assert!(
        matches!(tail.1, FetchOutcome::Completed { bytes: 0, .. }),
        "{tail:?}"
    );
    assert_eq!(past_end.responses.lock().unwrap()[0].total_len, Some(100));
    let err = |i: usize| match &outs[i].1 {
        FetchOutcome::Failed(e) => e.clone(),
        o => panic!("expected failure, got {o:?}"),
    };
    assert_eq!(err(0).status(), Some(403));
    assert_eq!(err(1).status(), Some(410));
    match err(2) {
        Error::RangeNotSatisfiable { total, range, .. } => {
            assert_eq!(total, Some(100));
            assert_eq!(range.start, 500);
        }
        e => panic!("{e}"),
    }
    assert_eq!(server.requests().len(), 4, "no retries of client errors");
    settle(&handle, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_errors_abort_without_retry() {
    let server = LoopbackServer::start().unwrap();
    server.route("/w", Route::new(payload(1 << 20, 5)));
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let done = tx.clone();
    let cmd = FetchCmd::get(server.url("/w"))
        .with_cancel(token.child_token())
        .writer(|offset, _| {
            if offset > 0 {
                Err(Error::protocol(std::io::Error::other("disk full")))
            } else {
                Ok(())
            }
        })
        .on_complete(move |o| done.send(("w".into(), o)).unwrap());
    let (handle, _) = register(&dl, vec![cmd], token);
    let outs = outcomes(&mut rx, 1).await;
    match &outs[0].1 {
        FetchOutcome::Failed(Error::Write { source, offset, .. }) => {
            assert!(*offset > 0);
            assert_eq!(source.to_string(), "disk full");
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(server.requests().len(), 1);
    settle(&handle, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactivity_is_retried_from_the_frontier() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(1 << 20, 6);
    server.route(
        "/s",
        Route::new(body.clone()).fault(Fault::Stall {
            after: 300_000,
            stall: Duration::from_secs(60),
            times: 1,
        }),
    );
    let dl = downloader(|mut c| {
        c.inactivity_timeout = Duration::from_millis(300);
        c
    });
    let (outcome, sink) = fetch_one(&dl, &server, "/s").await;
    assert!(
        matches!(outcome, FetchOutcome::Completed { .. }),
        "{outcome:?}"
    );
    assert!(*sink.bytes.lock().unwrap() == body);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].range.as_deref(), Some("bytes=300000-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_budget_counts_attempts_without_progress() {
    let server = LoopbackServer::start().unwrap();
    server.route(
        "/busy",
        Route::new(payload(10, 7)).fault(Fault::FailFirst {
            count: 100,
            status: 503,
            retry_after: None,
        }),
    );
    let dl = downloader(|mut c| {
        c.retry.max_attempts = 3;
        c
    });
    let (outcome, _) = fetch_one(&dl, &server, "/busy").await;
    match &outcome {
        FetchOutcome::Failed(e @ Error::RetriesExhausted { attempts: 3, .. }) => {
            assert_eq!(e.status(), Some(503))
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_peer_limit_and_cancellation_report_every_command_once() {
    let server = LoopbackServer::start().unwrap();
    for i in 0..6 {
        server.route(
            &format!("/c{i}"),
            Route::new(payload(4 << 20, 10 + i)).throttle(1 << 20),
        );
    }
    let dl = downloader(|mut c| {
        c.max_in_flight_per_peer = 2;
        c
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let cmds: Vec<_> = (0..6)
        .map(|i| get(&server, &format!("/c{i}"), None, &token, &tx).0)
        .collect();
    let (handle, _) = register(&dl, cmds, token);
    let two_running = server
        .wait_until_async(PATIENCE, |reqs, s| {
            reqs.len() >= 2 && s.bytes_sent > 100_000
        })
        .await;
    assert!(two_running);
    assert_eq!(handle.active_commands(), 2);
    handle.cancel();
    let outs = outcomes(&mut rx, 6).await;
    assert!(
        outs.iter()
            .all(|(_, o)| matches!(o, FetchOutcome::Cancelled)),
        "{outs:?}"
    );
    settle(&handle, &mut rx).await;
    assert_eq!(handle.commands_issued(), 6);
    let stats = server.stats();
    assert_eq!(stats.max_responses_in_flight, 2, "{stats:?}");
    let ended = server
        .wait_until_async(PATIENCE, |reqs, _| {
            reqs.iter().all(|r| r.end == Some(ResponseEnd::ClientGone))
        })
        .await;
    assert!(
        ended,
        "cancelled fetches close their connections: {:?}",
        server.requests()
    );
    assert_eq!(
        server.requests().len(),
        2,
        "queued commands never reached the network"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_cancel_stops_every_peer() {
    let server = LoopbackServer::start().unwrap();
    server.route("/r", Route::new(payload(4 << 20, 20)).throttle(1 << 20));
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut handles = Vec::new();
    for i in 0..3 {
        // One peer's token is not even derived from the root: the root still stops its fetches.
        let token = if i == 0 {
            CancellationToken::new()
        } else {
            dl.child_token()
        };
        let (cmd, _) = get(&server, "/r", None, &token, &tx);
        handles.push(register(&dl, vec![cmd], token).0);
    }
    assert!(
        server
            .wait_until_async(PATIENCE, |reqs, _| reqs.len() == 3)
            .await
    );
    dl.cancel_token().cancel();
    let outs = outcomes(&mut rx, 3).await;
    assert!(outs
        .iter()
        .all(|(_, o)| matches!(o, FetchOutcome::Cancelled)));
    for h in &handles {
        settle(h, &mut rx).await;
    }
    assert_eq!(dl.in_flight(), 0);
}

#[test]
fn register_without_a_runtime_cancels_the_peer() {
    let dl = Downloader::new(DownloaderConfig::default()).unwrap();
    let token = CancellationToken::new();
    let (handle, _) = register(&dl, Vec::new(), token.clone());
    assert!(token.is_cancelled());
    assert!(handle.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_response_fails_without_retries_or_bytes() {
    let server = LoopbackServer::start().unwrap();
    server.route(
        "/page",
        Route::new(payload(5000, 30)).content_type("text/html"),
    );
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let done = tx.clone();
    let cmd = FetchCmd::get(server.url("/page"))
        .with_cancel(token.child_token())
        .on_response(|info| match info.content_type.as_deref() {
            Some(t) if t.starts_with("text/") => Err(Error::protocol(std::io::Error::other(
                format!("not audio: {t}"),
            ))),
            _ => Ok(()),
        })
        .writer(|_, _| panic!("a rejected response delivers no bytes"))
        .on_complete(move |o| done.send(("page".into(), o)).unwrap());
    let (handle, _) = register(&dl, vec![cmd], token);
    let outs = outcomes(&mut rx, 1).await;
    match &outs[0].1 {
        FetchOutcome::Failed(Error::Protocol(source)) => {
            assert_eq!(source.to_string(), "not audio: text/html");
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(server.requests().len(), 1);
    settle(&handle, &mut rx).await;
}
