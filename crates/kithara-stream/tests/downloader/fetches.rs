//! Exact bytes, response facts and throughput samples of single commands.

use std::sync::{Arc, Mutex};

use kithara_stream::dl::{ByteRange, FetchCmd, FetchOutcome};
use kithara_test_support::{payload, Fault, LoopbackServer, Route};
use tokio::sync::mpsc;

use crate::common::*;

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
