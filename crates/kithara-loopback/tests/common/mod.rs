//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use kithara_loopback::{LoopbackServer, Route};
use reqwest::Client;

pub const WAIT: Duration = Duration::from_secs(10);

pub fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

/// A GET of `path` with the given `Range` header value.
pub async fn ranged(
    c: &Client,
    server: &LoopbackServer,
    path: &str,
    range: &str,
) -> reqwest::Response {
    c.get(server.url(path))
        .header(reqwest::header::RANGE, range)
        .send()
        .await
        .unwrap()
}

pub fn server_with(path: &str, route: Route) -> LoopbackServer {
    let server = LoopbackServer::start().unwrap();
    server.route(path, route);
    server
}

/// Reads the body chunk by chunk; returns the bytes received and whether the
/// read ended with an error.
pub async fn read_body(mut resp: reqwest::Response) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => return (got, false),
            Err(_) => return (got, true),
        }
    }
}

/// Waits until every logged request has ended.
pub async fn all_ended(server: &LoopbackServer, n: usize) {
    let ok = server
        .wait_until_async(WAIT, |reqs, _| {
            reqs.len() == n && reqs.iter().all(|r| r.end.is_some())
        })
        .await;
    assert!(ok, "requests: {:#?}", server.requests());
}
