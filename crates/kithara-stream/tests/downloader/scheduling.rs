//! Limits, priorities, cancellation, blocking writers and building the client.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use kithara_stream::{
    dl::{Downloader, DownloaderConfig, FetchCmd, FetchOutcome, Priority},
    Error,
};
use kithara_test_support::{payload, Fault, LoopbackServer, ResponseEnd, Route};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::common::*;

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
    // Two command tasks started (the other four wait in the peer's queue), one driver.
    assert_eq!(dl.commands_in_flight(), 2);
    assert_eq!(dl.peers_alive(), 1);
    handle.cancel();
    let outs = outcomes(&mut rx, 6).await;
    assert!(
        outs.iter()
            .all(|(_, o)| matches!(o, FetchOutcome::Cancelled)),
        "{outs:?}"
    );
    settle(&handle, &mut rx).await;
    assert!(handle.is_finished());
    // The driver and the command tasks end a moment after the peer reports: wait for that.
    assert!(
        tokio::time::timeout(PATIENCE, dl.idle()).await.is_ok(),
        "the downloader winds down: {:?}",
        dl.stats()
    );
    assert_eq!(dl.commands_in_flight(), 0, "every command task ended");
    assert_eq!(dl.peers_alive(), 0, "the cancelled peer's driver ended");
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
async fn stats_count_every_command_and_return_to_idle_when_peers_end() {
    let server = LoopbackServer::start().unwrap();
    server.route("/a", Route::new(payload(64 << 10, 7)));
    server.route(
        "/stall",
        Route::new(payload(64 << 10, 8)).fault(Fault::Stall {
            after: 1000,
            stall: Duration::MAX,
            times: 1,
        }),
    );
    let dl = downloader(|mut c| {
        c.max_in_flight_per_peer = 1;
        c
    });
    assert!(dl.stats().is_idle());
    let (tx, mut rx) = mpsc::unbounded_channel();
    // One peer whose commands all complete, one stuck on a stall with more queued behind it.
    let done = dl.child_token();
    let cmds = (0..3)
        .map(|_| get(&server, "/a", None, &done, &tx).0)
        .collect();
    let (h1, _s1) = register(&dl, cmds, done);
    let stuck = dl.child_token();
    let (c1, _) = get(&server, "/stall", None, &stuck, &tx);
    let (c2, _) = get(&server, "/a", None, &stuck, &tx);
    let (h2, _s2) = register_with(&dl, vec![c1, c2], stuck.clone(), true);
    outcomes(&mut rx, 3).await;
    assert!(
        server
            .wait_until_async(PATIENCE, |reqs, _| reqs
                .iter()
                .any(|r| r.path == "/stall" && r.bytes_sent >= 1000))
            .await
    );
    let busy = dl.stats();
    assert_eq!(busy.commands_issued, 5, "{busy:?}");
    assert!(busy.peers_alive >= 1 && busy.fetch_tasks >= 1, "{busy:?}");
    assert!(!busy.is_idle());
    stuck.cancel();
    tokio::time::timeout(PATIENCE, dl.idle()).await.unwrap();
    let end = dl.stats();
    assert_eq!(
        (end.peers_alive, end.fetch_tasks, end.completions_reported),
        (0, 0, 5),
        "{end:?}"
    );
    assert!(h1.is_finished() && h2.is_finished());
}
