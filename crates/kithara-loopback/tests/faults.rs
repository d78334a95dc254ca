//! Integration tests of fault injection and of what the log and counters record, with reqwest as the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{all_ended, client, read_body, server_with, WAIT};
use kithara_loopback::{payload, Fault, ResponseEnd, Route};
use reqwest::header::{CONTENT_LENGTH, RETRY_AFTER};
use reqwest::StatusCode;

#[tokio::test]
async fn reset_after_cuts_exactly_then_recovers() {
    let body = payload(500_000, 9);
    let route = Route::new(body.clone()).fault(Fault::ResetAfter {
        after: 123_457,
        times: 1,
    });
    let server = server_with("/a", route);
    let c = client();
    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.headers()[CONTENT_LENGTH], "500000");
    let (got, failed) = read_body(resp).await;
    assert!(failed, "body read should fail");
    assert_eq!(got.len(), 123_457);
    assert_eq!(&got[..], &body[..123_457]);

    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), body);

    all_ended(&server, 2).await;
    let reqs = server.requests();
    assert_eq!(reqs[0].end, Some(ResponseEnd::Fault));
    assert_eq!(reqs[0].bytes_sent, 123_457);
    assert_eq!(reqs[1].end, Some(ResponseEnd::Completed));
    assert_eq!(server.stats().connections_accepted, 2);
}

#[tokio::test]
async fn reset_after_on_chunked_route() {
    let body = payload(100_000, 10);
    let route = Route::new(body.clone()).chunked().fault(Fault::ResetAfter {
        after: 777,
        times: 1,
    });
    let server = server_with("/a", route);
    let resp = client().get(server.url("/a")).send().await.unwrap();
    let (got, failed) = read_body(resp).await;
    assert!(failed);
    assert_eq!(&got[..], &body[..777]);
}

#[tokio::test]
async fn short_body_ends_early() {
    let body = payload(200_000, 11);
    let route = Route::new(body.clone()).fault(Fault::ShortBody {
        after: 65_536,
        times: 1,
    });
    let server = server_with("/a", route);
    let c = client();
    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.headers()[CONTENT_LENGTH], "200000");
    let (got, failed) = read_body(resp).await;
    assert!(failed);
    assert_eq!(&got[..], &body[..65_536]);
    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), body);
    all_ended(&server, 2).await;
    assert_eq!(server.requests()[0].end, Some(ResponseEnd::Fault));
}

#[tokio::test]
async fn wrong_content_length_larger_breaks_the_body() {
    let body = payload(10_000, 12);
    let route = Route::new(body.clone()).fault(Fault::WrongContentLength {
        declared: 20_000,
        times: 1,
    });
    let server = server_with("/a", route);
    let resp = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.headers()[CONTENT_LENGTH], "20000");
    let (got, failed) = read_body(resp).await;
    assert!(failed);
    assert_eq!(got, body);
    all_ended(&server, 1).await;
    assert_eq!(server.requests()[0].end, Some(ResponseEnd::Fault));
}

#[tokio::test]
async fn wrong_content_length_smaller_truncates() {
    let body = payload(10_000, 13);
    let route = Route::new(body.clone()).fault(Fault::WrongContentLength {
        declared: 4000,
        times: 1,
    });
    let server = server_with("/a", route);
    let resp = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.headers()[CONTENT_LENGTH], "4000");
    assert_eq!(resp.bytes().await.unwrap(), body.slice(..4000));
}

#[tokio::test]
async fn stall_then_continue() {
    let body = payload(50_000, 14);
    let route = Route::new(body.clone()).fault(Fault::Stall {
        after: 1000,
        stall: Duration::from_millis(30),
        times: 1,
    });
    let server = server_with("/a", route);
    let resp = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), body);
    all_ended(&server, 1).await;
    assert_eq!(server.requests()[0].end, Some(ResponseEnd::Completed));
}

#[tokio::test]
async fn client_dropping_a_stalled_body_is_client_gone() {
    let body = payload(50_000, 15);
    let route = Route::new(body.clone()).fault(Fault::Stall {
        after: 1000,
        stall: Duration::MAX,
        times: 1,
    });
    let server = server_with("/a", route);
    let mut resp = client().get(server.url("/a")).send().await.unwrap();
    let mut got = Vec::new();
    while got.len() < 1000 {
        got.extend_from_slice(&resp.chunk().await.unwrap().unwrap());
    }
    assert_eq!(&got[..], &body[..1000]);
    assert!(
        server
            .wait_until_async(WAIT, |_, s| s.responses_in_flight == 1)
            .await
    );
    drop(resp);
    let ok = server
        .wait_until_async(WAIT, |reqs, s| {
            reqs[0].end == Some(ResponseEnd::ClientGone)
                && s.responses_in_flight == 0
                && s.connections_open == 0
        })
        .await;
    assert!(ok, "{:#?} {:#?}", server.requests(), server.stats());
    assert_eq!(server.requests()[0].bytes_sent, 1000);
}

#[tokio::test]
async fn client_dropping_a_throttled_body_is_client_gone() {
    let body = payload(8 << 20, 16);
    let server = server_with("/a", Route::new(body).throttle(256 * 1024));
    let mut resp = client().get(server.url("/a")).send().await.unwrap();
    assert!(!resp.chunk().await.unwrap().unwrap().is_empty());
    drop(resp);
    let ok = server
        .wait_until_async(WAIT, |reqs, _| reqs[0].end == Some(ResponseEnd::ClientGone))
        .await;
    assert!(ok, "{:#?}", server.requests());
    assert!(server.requests()[0].bytes_sent < 8 << 20);
}

#[tokio::test]
async fn concurrent_connections_and_responses_are_counted() {
    let route = Route::new(payload(10_000, 17)).fault(Fault::Stall {
        after: 0,
        stall: Duration::MAX,
        times: 3,
    });
    let server = server_with("/a", route);
    let c = client();
    let (a, b, d) = tokio::join!(
        c.get(server.url("/a")).send(),
        c.get(server.url("/a")).send(),
        c.get(server.url("/a")).send()
    );
    let resps = [a.unwrap(), b.unwrap(), d.unwrap()];
    let ok = server
        .wait_until_async(WAIT, |_, s| {
            s.responses_in_flight == 3 && s.connections_open == 3
        })
        .await;
    assert!(ok, "{:#?}", server.stats());
    drop(resps);
    let ok = server
        .wait_until_async(WAIT, |reqs, s| {
            s.responses_in_flight == 0
                && s.connections_open == 0
                && reqs.iter().all(|r| r.end == Some(ResponseEnd::ClientGone))
        })
        .await;
    assert!(ok, "{:#?}", server.stats());
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, 3);
    assert_eq!(stats.max_connections_open, 3);
    assert_eq!(stats.max_responses_in_flight, 3);
    let mut conns: Vec<u64> = server.requests().iter().map(|r| r.connection).collect();
    conns.sort_unstable();
    conns.dedup();
    assert_eq!(conns.len(), 3);
}

#[tokio::test]
async fn fail_first_with_retry_after() {
    let body = payload(1000, 18);
    let route = Route::new(body.clone()).fault(Fault::FailFirst {
        count: 2,
        status: 503,
        retry_after: Some(7),
    });
    let server = server_with("/a", route);
    let c = client();
    for _ in 0..2 {
        let resp = c.get(server.url("/a")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[RETRY_AFTER], "7");
        resp.bytes().await.unwrap();
    }
    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key(RETRY_AFTER));
    assert_eq!(resp.bytes().await.unwrap(), body);
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
}
