//! Integration tests of the test server (ranges, headers, log, stats), with reqwest as the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{all_ended, client, ranged, server_with, WAIT};
use kithara_loopback::{payload, LoopbackServer, ResponseEnd, Route};
use reqwest::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, LOCATION, RANGE,
    TRANSFER_ENCODING,
};
use reqwest::{Client, StatusCode};

#[tokio::test]
async fn range_206_serves_exact_bytes() {
    let body = payload(10_000, 1);
    let server = server_with("/a", Route::new(body.clone()).content_type("audio/mpeg"));
    let resp = ranged(&client(), &server, "/a", "bytes=100-199").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 100-199/10000");
    assert_eq!(resp.headers()[CONTENT_LENGTH], "100");
    assert_eq!(resp.headers()[ACCEPT_RANGES], "bytes");
    assert_eq!(resp.headers()[CONTENT_TYPE], "audio/mpeg");
    assert_eq!(resp.bytes().await.unwrap(), body.slice(100..200));

    all_ended(&server, 1).await;
    let r = &server.requests()[0];
    assert_eq!((r.status, r.body_start, r.bytes_sent), (206, 100, 100));
    assert_eq!(r.range.as_deref(), Some("bytes=100-199"));
    assert_eq!(r.end, Some(ResponseEnd::Completed));
    assert_eq!(r.path, "/a");
    assert_eq!(server.stats().bytes_sent, 100);
}

#[tokio::test]
async fn open_and_suffix_ranges() {
    let body = payload(5000, 2);
    let server = server_with("/a", Route::new(body.clone()));
    let c = client();
    let resp = ranged(&c, &server, "/a", "bytes=-300").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 4700-4999/5000");
    assert_eq!(resp.bytes().await.unwrap(), body.slice(4700..));

    let resp = ranged(&c, &server, "/a", "bytes=4000-").await;
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 4000-4999/5000");
    assert_eq!(resp.bytes().await.unwrap(), body.slice(4000..));
}

#[tokio::test]
async fn unsatisfiable_range_is_416() {
    let server = server_with("/a", Route::new(payload(1000, 3)));
    let resp = ranged(&client(), &server, "/a", "bytes=1000-").await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes */1000");
    assert!(resp.bytes().await.unwrap().is_empty());
    all_ended(&server, 1).await;
    assert_eq!(server.requests()[0].status, 416);
}

#[tokio::test]
async fn head_has_headers_but_no_body() {
    let server = server_with("/a", Route::new(payload(4321, 4)));
    let resp = client().head(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_LENGTH], "4321");
    assert_eq!(resp.headers()[ACCEPT_RANGES], "bytes");
    assert!(resp.headers().contains_key(ETAG));
    assert!(resp.bytes().await.unwrap().is_empty());
    all_ended(&server, 1).await;
    let r = &server.requests()[0];
    assert_eq!(r.method, reqwest::Method::HEAD);
    assert_eq!((r.bytes_sent, r.end), (0, Some(ResponseEnd::Completed)));
}

#[tokio::test]
async fn no_range_always_200() {
    let body = payload(2000, 5);
    let server = server_with("/a", Route::new(body.clone()).no_range());
    let resp = ranged(&client(), &server, "/a", "bytes=10-20").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key(ACCEPT_RANGES));
    assert_eq!(resp.bytes().await.unwrap(), body);
}

#[tokio::test]
async fn chunked_has_no_content_length() {
    let body = payload(300_000, 6);
    let server = server_with("/a", Route::new(body.clone()).chunked().chunk_size(10_000));
    let c = client();
    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key(CONTENT_LENGTH));
    assert_eq!(resp.headers()[TRANSFER_ENCODING], "chunked");
    assert_eq!(resp.bytes().await.unwrap(), body);

    let resp = ranged(&c, &server, "/a", "bytes=0-9").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert!(!resp.headers().contains_key(CONTENT_LENGTH));
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 0-9/300000");
    assert_eq!(resp.bytes().await.unwrap(), body.slice(..10));
}

#[tokio::test]
async fn unknown_total_hides_the_length() {
    let body = payload(1000, 7);
    let server = server_with("/a", Route::new(body.clone()).unknown_total());
    let c = client();
    let resp = ranged(&c, &server, "/a", "bytes=10-19").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 10-19/*");
    assert_eq!(resp.bytes().await.unwrap(), body.slice(10..20));

    let resp = c.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key(CONTENT_LENGTH));
    assert_eq!(resp.bytes().await.unwrap(), body);
}

#[tokio::test]
async fn throttled_route_delivers_all_bytes() {
    let body = payload(40_000, 8);
    let server = server_with("/a", Route::new(body.clone()).throttle(400_000));
    let resp = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), body);
}

#[tokio::test]
async fn latency_route_still_answers() {
    let server = server_with("/a", Route::new("hello").latency(Duration::from_millis(20)));
    let resp = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), "hello");
}

#[tokio::test]
async fn redirect_is_followed_or_reported() {
    let server = server_with("/new", Route::new("target"));
    server.route("/old", Route::new("").redirect("/new", 302));
    let resp = client().get(server.url("/old")).send().await.unwrap();
    assert_eq!(resp.url().path(), "/new");
    assert_eq!(resp.bytes().await.unwrap(), "target");

    let no_follow = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_follow.get(server.url("/old")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()[LOCATION], "/new");
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/old", "/new", "/old"]);
}

#[tokio::test]
async fn status_routes_and_unknown_paths() {
    let server = server_with("/gone", Route::new("x").status(410));
    let c = client();
    let resp = ranged(&c, &server, "/gone", "bytes=0-0").await;
    assert_eq!(resp.status(), StatusCode::GONE);
    let resp = c.get(server.url("/nope?x=1")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let reqs = server.requests();
    assert_eq!((reqs[1].path.as_str(), reqs[1].status), ("/nope", 404));
}

#[tokio::test]
async fn if_range_mismatch_gets_full_body() {
    let body = payload(3000, 19);
    let server = server_with("/a", Route::new(body.clone()));
    let c = client();
    let head = c.head(server.url("/a")).send().await.unwrap();
    let etag = head.headers()[ETAG].to_str().unwrap().to_owned();

    let resp = c
        .get(server.url("/a"))
        .header(RANGE, "bytes=100-")
        .header(IF_RANGE, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), body.slice(100..));

    let resp = c
        .get(server.url("/a"))
        .header(RANGE, "bytes=100-")
        .header(IF_RANGE, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), body);
    let r = &server.requests()[2];
    assert_eq!(r.if_range.as_deref(), Some("\"something-else\""));
    assert_eq!((r.status, r.body_start), (200, 0));
}

#[tokio::test]
async fn log_ids_connections_and_clear() {
    let server = server_with("/a", Route::new(payload(100, 20)));
    let c = client();
    for _ in 0..3 {
        c.get(server.url("/a"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    client()
        .get(server.url("/a"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    all_ended(&server, 4).await;
    let reqs = server.requests();
    let ids: Vec<u64> = reqs.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    // Keep-alive: the first client reused one connection.
    assert!(reqs[..3].iter().all(|r| r.connection == reqs[0].connection));
    assert_ne!(reqs[3].connection, reqs[0].connection);
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.bytes_sent, 400);
    assert_eq!(stats.max_responses_in_flight, 1);

    server.clear_log();
    assert!(server.requests().is_empty());
    assert_eq!(server.stats().connections_accepted, 2);
}

#[tokio::test]
async fn blocking_wait_until_from_spawn_blocking() {
    let server = Arc::new(server_with("/a", Route::new("abc")));
    let s2 = Arc::clone(&server);
    let waiter = tokio::task::spawn_blocking(move || {
        s2.wait_until(WAIT, |reqs, _| {
            reqs.iter().any(|r| r.end == Some(ResponseEnd::Completed))
        })
    });
    let resp = client().get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), "abc");
    assert!(waiter.await.unwrap());
    assert!(!server.wait_until(Duration::from_millis(1), |reqs, _| reqs.len() == 2));
}

#[test]
fn works_from_sync_code_and_stops_on_drop() {
    let server = LoopbackServer::start().unwrap();
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(
        server.url("/x?y=1").as_str(),
        format!("http://{addr}/x?y=1")
    );
    let conn = std::net::TcpStream::connect(addr).unwrap();
    assert!(server.wait_until(WAIT, |_, s| s.connections_open == 1));
    drop(server);
    drop(conn);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn etag_override_and_replaced_route() {
    let server = server_with("/a", Route::new(payload(100, 21)).etag("\"v1\""));
    let c = client();
    let resp = c
        .get(server.url("/a"))
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, "\"v1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[ETAG], "\"v1\"");
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);

    // Same length, different content: a different derived ETag.
    let etag_of = |body| async {
        server.route("/b", Route::new(body));
        let resp = c.head(server.url("/b")).send().await.unwrap();
        resp.headers()[ETAG].to_str().unwrap().to_owned()
    };
    let e1 = etag_of(payload(3 << 20, 22)).await;
    let e2 = etag_of(payload(3 << 20, 23)).await;
    let e3 = etag_of(payload(3 << 20, 22)).await;
    assert_ne!(e1, e2);
    assert_eq!(e1, e3);
}

#[tokio::test]
async fn large_body_is_served_intact() {
    let body = payload(16 << 20, 24);
    let server = server_with("/big", Route::new(body.clone()));
    let resp = client().get(server.url("/big")).send().await.unwrap();
    assert_eq!(resp.content_length(), Some(16 << 20));
    assert!(resp.bytes().await.unwrap() == body);
    all_ended(&server, 1).await;
    assert_eq!(server.stats().bytes_sent, 16 << 20);
}
