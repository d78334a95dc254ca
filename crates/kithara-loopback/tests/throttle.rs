//! The run-time adjustable throttle: a `ThrottleHandle` shared by routes changes responses in
//! flight and later ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{all_ended, client, WAIT};
use kithara_loopback::{payload, LoopbackServer, ResponseEnd, Route, ThrottleHandle};

/// Bytes per second at which a 64 KiB body would take more than five minutes.
const CRAWL: u64 = 200;

#[tokio::test]
async fn lifting_the_throttle_speeds_up_a_response_in_flight() {
    let body = payload(64 * 1024, 21);
    let handle = ThrottleHandle::new(CRAWL);
    let server = LoopbackServer::start().unwrap();
    server.route(
        "/a",
        Route::new(body.clone()).throttle_handle(handle.clone()),
    );

    let mut resp = client().get(server.url("/a")).send().await.unwrap();
    let mut got = resp.chunk().await.unwrap().unwrap().to_vec();
    assert!(
        got.len() < body.len(),
        "the first frame is small at {CRAWL} B/s"
    );
    assert_eq!(server.requests()[0].end, None, "still crawling");

    handle.set(0);
    assert_eq!(handle.get(), 0);
    // At the old rate the rest would take minutes; lifted, it arrives within the wait budget.
    let rest = tokio::time::timeout(WAIT, async {
        while let Some(c) = resp.chunk().await.unwrap() {
            got.extend_from_slice(&c);
        }
    })
    .await;
    assert!(
        rest.is_ok(),
        "body still paced after the throttle was lifted"
    );
    assert_eq!(got, body);
    all_ended(&server, 1).await;
    assert_eq!(server.requests()[0].end, Some(ResponseEnd::Completed));
}

#[tokio::test]
async fn one_handle_paces_later_responses_of_every_route_given_it() {
    let a = payload(64 * 1024, 22);
    let b = payload(48 * 1024, 23);
    let handle = ThrottleHandle::default();
    let server = LoopbackServer::start().unwrap();
    server.route("/a", Route::new(a.clone()).throttle_handle(handle.clone()));
    server.route("/b", Route::new(b.clone()).throttle_handle(handle.clone()));

    // Unthrottled by default.
    let first = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(first.bytes().await.unwrap(), a);

    // Slowed down: two new responses crawl.
    handle.set(CRAWL);
    let mut ra = client().get(server.url("/a")).send().await.unwrap();
    let mut rb = client().get(server.url("/b")).send().await.unwrap();
    let mut got_a = ra.chunk().await.unwrap().unwrap().to_vec();
    let mut got_b = rb.chunk().await.unwrap().unwrap().to_vec();
    // 4-byte frames every 20 ms: a first read holds a few of them, not kilobytes.
    assert!(
        got_a.len() < 1024,
        "frames follow the new rate: {}",
        got_a.len()
    );
    assert!(
        got_b.len() < 1024,
        "frames follow the new rate: {}",
        got_b.len()
    );

    // Lifted again: both finish.
    handle.set(10_000_000);
    let done = tokio::time::timeout(WAIT, async {
        while let Some(c) = ra.chunk().await.unwrap() {
            got_a.extend_from_slice(&c);
        }
        while let Some(c) = rb.chunk().await.unwrap() {
            got_b.extend_from_slice(&c);
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "bodies still crawling after the rate was raised"
    );
    assert_eq!((got_a, got_b), (a.to_vec(), b.to_vec()));
    all_ended(&server, 3).await;
}
