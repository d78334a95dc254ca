//! Statuses, retries, writers, rejections, and what a misbehaving server costs.

use std::time::Duration;

use kithara_stream::{
    dl::{ByteRange, FetchCmd, FetchOutcome},
    Error,
};
use kithara_test_support::{payload, Fault, LoopbackServer, Route};
use tokio::sync::mpsc;

use crate::common::*;

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
                Err(Error::other(std::io::Error::other("disk full")))
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
            Some(t) if t.starts_with("text/") => Err(Error::other(std::io::Error::other(format!(
                "not audio: {t}"
            )))),
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
async fn a_refused_connection_is_retried_unless_the_command_says_not_to() {
    let server = LoopbackServer::start().unwrap();
    server.route("/x", Route::new(payload(10, 1)));
    let dl = downloader(|mut c| {
        c.retry.max_attempts = 3;
        c.retry.initial_backoff = Duration::from_millis(1);
        c
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (retried, _) = get(&server, "/x", None, &token, &tx);
    let (fail_fast, _) = get(&server, "/x", None, &token, &tx);
    drop(server); // its port refuses connections from now on
    let (handle, _) = register(&dl, vec![retried, fail_fast.retry_connect(false)], token);
    let outs = outcomes(&mut rx, 2).await;
    settle(&handle, &mut rx).await;
    let attempts: Vec<Option<u32>> = outs
        .iter()
        .map(|(_, o)| match o {
            FetchOutcome::Failed(Error::RetriesExhausted { attempts, last, .. }) => {
                assert!(last.is_connect(), "{last}");
                Some(*attempts)
            }
            FetchOutcome::Failed(e) => {
                assert!(e.is_connect(), "{e}");
                None
            }
            other => panic!("{other:?}"),
        })
        .collect();
    // One spent the whole budget, the other gave up at the first refusal.
    assert!(attempts.contains(&Some(3)), "{attempts:?}");
    assert!(attempts.contains(&None), "{attempts:?}");
}
