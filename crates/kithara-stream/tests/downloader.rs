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
        Priority, ResponseInfo, RetryPolicy, ThroughputSample,
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
        let s = tokio::time::timeout(PATIENCE, samples.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(s.complete);
        assert_eq!(s.purpose, kithara_stream::dl::FetchPurpose::Media);
        assert!(s.ttfb.is_some_and(|t| t <= s.elapsed), "{s:?}");
        sampled += s.bytes;
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
        // Long enough that a loaded machine never trips it before the stall.
        c.inactivity_timeout = Duration::from_secs(2);
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

#[test]
fn a_client_that_cannot_be_built_fails_when_the_downloader_is_built() {
    let err = Downloader::new(
        DownloaderConfig::builder()
            .user_agent("bad\nagent")
            .system_proxy(false)
            .build(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Client(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_commands_start_before_queued_prefetches_across_peers() {
    let server = LoopbackServer::start().unwrap();
    // The first prefetch holds the pool's only slot for a while, so everything else queues.
    server.route(
        "/slow",
        Route::new(payload(10_000, 40)).fault(Fault::Stall {
            after: 1000,
            stall: Duration::from_secs(2),
            times: 1,
        }),
    );
    for p in ["/p2", "/p3", "/urgent"] {
        server.route(p, Route::new(payload(1000, 41)));
    }
    let dl = downloader(|mut c| {
        c.max_in_flight = 1;
        c.max_in_flight_per_peer = 4;
        c
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token_a = dl.child_token();
    let prefetches: Vec<FetchCmd> = ["/slow", "/p2", "/p3"]
        .iter()
        .map(|p| {
            get(&server, p, None, &token_a, &tx)
                .0
                .with_priority(Priority::Prefetch)
        })
        .collect();
    let (a, _) = register(&dl, prefetches, token_a);
    assert!(
        server
            .wait_until_async(PATIENCE, |reqs, _| !reqs.is_empty())
            .await
    );
    let token_b = dl.child_token();
    let (urgent, _) = get(&server, "/urgent", None, &token_b, &tx);
    let (b, _) = register(&dl, vec![urgent.with_priority(Priority::Urgent)], token_b);
    outcomes(&mut rx, 4).await;
    let order: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(order[0], "/slow");
    assert_eq!(
        order[1], "/urgent",
        "the urgent command starts next: {order:?}"
    );
    assert_eq!(order.len(), 4);
    settle(&a, &mut rx).await;
    settle(&b, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_blocking_writer_does_not_stall_other_streams() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(1 << 20, 42);
    server.route("/b", Route::new(body.clone()));
    let dl = downloader(|mut c| {
        c.max_in_flight = 16;
        c
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    // One command whose writer blocks (a stuck disk) until the test lets it go. The runtime has a
    // single worker: were the writer run on it, nothing else could run.
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(Some(gate_rx));
    let gave_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gave_up_w = gave_up.clone();
    let token = dl.child_token();
    let done = tx.clone();
    let stuck = FetchCmd::get(server.url("/b"))
        .with_cancel(token.child_token())
        .writer_blocks(true)
        .writer(move |_, _| {
            if let Some(rx) = gate.lock().unwrap().take() {
                // Released by the test once the others are done; waiting out the timeout means
                // the others could not finish while this writer blocked.
                if rx.recv_timeout(Duration::from_secs(10)).is_err() {
                    gave_up_w.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            Ok(())
        })
        .on_complete(move |o| done.send(("stuck".into(), o)).unwrap());
    let (stuck_peer, _) = register(&dl, vec![stuck], token);
    // Eight more streams on the same downloader complete while that writer is blocked.
    let mut others = Vec::new();
    for i in 0..8 {
        let token = dl.child_token();
        let (cmd, sink) = get(&server, "/b", None, &token, &tx);
        let (handle, _) = register(&dl, vec![cmd], token);
        others.push((format!("/b#{i}"), handle, sink));
    }
    let outs = outcomes(&mut rx, 8).await;
    assert!(
        outs.iter()
            .all(|(name, o)| name == "/b" && matches!(o, FetchOutcome::Completed { .. })),
        "{outs:?}"
    );
    for (_, _, sink) in &others {
        assert!(*sink.bytes.lock().unwrap() == body);
    }
    assert!(
        !gave_up.load(std::sync::atomic::Ordering::SeqCst),
        "the other streams only finished after the blocked writer gave up"
    );
    let _ = gate_tx.send(());
    let last = outcomes(&mut rx, 1).await;
    assert!(
        matches!(last[0].1, FetchOutcome::Completed { bytes, .. } if bytes == body.len() as u64)
    );
    settle(&stuck_peer, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_in_seconds_delays_the_retry() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(5000, 43);
    server.route(
        "/later",
        Route::new(body.clone()).fault(Fault::FailFirst {
            count: 1,
            status: 503,
            retry_after: Some(1),
        }),
    );
    let dl = downloader(|c| c);
    let (outcome, sink) = fetch_one(&dl, &server, "/later").await;
    assert!(
        matches!(outcome, FetchOutcome::Completed { .. }),
        "{outcome:?}"
    );
    assert!(*sink.bytes.lock().unwrap() == body);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at.duration_since(reqs[0].at);
    // Backoff alone would retry after at most 10 ms here.
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_followed_to_the_limit_then_fails() {
    let server = LoopbackServer::start().unwrap();
    server.route("/loop", Route::new(Vec::new()).redirect("/loop", 302));
    let dl = downloader(|mut c| {
        c.max_redirects = 3;
        c
    });
    let (outcome, _) = fetch_one(&dl, &server, "/loop").await;
    match outcome {
        FetchOutcome::Failed(Error::Transport { kind, url, .. }) => {
            assert_eq!(kind, kithara_stream::TransportKind::Redirect);
            assert!(url.as_str().ends_with("/loop"));
        }
        o => panic!("{o:?}"),
    }
    // The first request and three redirects followed: a client that did not follow them would
    // have stopped at one.
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranged_request_answered_with_another_body_fails_after_one_request() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(8 << 20, 44);
    server.route(
        "/f",
        Route::new(body).ranges_answered_with(&b"<html>oops</html>"[..], "text/html"),
    );
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    // Knowing the length (as a stream that already saw a response does) ...
    let (known, _) = get(
        &server,
        "/f",
        Some(ByteRange::from_start(6 << 20)),
        &token,
        &tx,
    );
    let known = known.with_expected_len(Some(8 << 20));
    // ... or not: a whole body that ends before the asked offset cannot be the resource either.
    let (unknown, _) = get(
        &server,
        "/f",
        Some(ByteRange::from_start(6 << 20)),
        &token,
        &tx,
    );
    let (handle, _) = register(&dl, vec![known, unknown], token);
    let outs = outcomes(&mut rx, 2).await;
    let errors: Vec<&Error> = outs
        .iter()
        .map(|(_, o)| match o {
            FetchOutcome::Failed(e) => e,
            o => panic!("{o:?}"),
        })
        .collect();
    assert!(errors.iter().any(|e| e.is_resource_changed()), "{errors:?}");
    assert!(
        errors.iter().any(|e| matches!(
            e,
            Error::RangeNotHonoured {
                body_len: Some(17),
                ..
            }
        )),
        "{errors:?}"
    );
    assert_eq!(server.requests().len(), 2, "one request each, no loop");
    settle(&handle, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_range_totals_and_starts_are_checked() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(100_000, 45);
    server.route(
        "/total",
        Route::new(body.clone()).fault(Fault::ContentRangeTotal {
            total: 99_999,
            times: 1,
        }),
    );
    server.route(
        "/shifted",
        Route::new(body.clone()).fault(Fault::ShiftedRange { by: 10, times: 1 }),
    );
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (total, _) = get(&server, "/total", Some(ByteRange::new(10, 20)), &token, &tx);
    let total = total.with_expected_len(Some(100_000));
    let (shifted, _) = get(
        &server,
        "/shifted",
        Some(ByteRange::new(50, 60)),
        &token,
        &tx,
    );
    let (handle, _) = register(&dl, vec![total, shifted], token);
    let outs = outcomes(&mut rx, 2).await;
    match &outs[0] {
        (name, FetchOutcome::Failed(Error::UnexpectedRange { answered, .. })) => {
            assert_eq!(name, "/shifted");
            assert_eq!(answered, "bytes 60-59/100000");
        }
        o => panic!("{o:?}"),
    }
    match &outs[1] {
        (name, FetchOutcome::Failed(Error::ResourceChanged { before, after, .. })) => {
            assert_eq!(name, "/total");
            assert_eq!(
                (before.as_str(), after.as_str()),
                ("100000 bytes", "99999 bytes")
            );
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(server.requests().len(), 2);
    settle(&handle, &mut rx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_cut_short_reports_a_partial_sample_tagged_with_its_purpose() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(1 << 20, 46);
    server.route(
        "/cut",
        Route::new(body.clone()).fault(Fault::ResetAfter {
            after: 300_000,
            times: 1,
        }),
    );
    let dl = downloader(|c| c);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (cmd, sink) = get(&server, "/cut", None, &token, &tx);
    let cmd = cmd.with_purpose(kithara_stream::dl::FetchPurpose::Index);
    let (handle, mut samples) = register_with(&dl, vec![cmd], token, true);
    outcomes(&mut rx, 1).await;
    assert!(*sink.bytes.lock().unwrap() == body);
    let first = samples.recv().await.unwrap();
    let second = samples.recv().await.unwrap();
    assert!(!first.complete && first.bytes == 300_000, "{first:?}");
    assert!(
        second.complete && second.bytes == body.len() as u64 - 300_000,
        "{second:?}"
    );
    assert!([first, second]
        .iter()
        .all(|s| s.purpose == kithara_stream::dl::FetchPurpose::Index));
    handle.cancel();
    settle(&handle, &mut rx).await;
}
