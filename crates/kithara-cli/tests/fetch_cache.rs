//! `kithara fetch` reads through the persistent cache: a second fetch of a URL sends no request
//! for its body, a fetch with the server gone is served from the cache, and `cache ls` lists
//! what `fetch` fetched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{kithara, media_server, stderr};
use kithara_test_support::{payload, LoopbackServer, Route};

fn fetch(cache: &Path, url: &str, out: &Path) -> std::process::Output {
    // -v: the downloader logs every retry ("retrying fetch") at warn.
    kithara(&[
        "-v",
        "--cache-dir",
        cache.to_str().unwrap(),
        "fetch",
        url,
        "-o",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_second_fetch_is_served_from_the_cache_and_offline_too() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(3 << 20, 5);
    server.route("/c.flac", Route::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let url = server.url("/c.flac").to_string();

    let first = dir.path().join("first.flac");
    let out = fetch(&cache, &url, &first);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(std::fs::read(&first).unwrap() == body);
    assert!(!dir.path().join("first.flac.part").exists());

    let ls = kithara(&["--cache-dir", cache.to_str().unwrap(), "cache", "ls"]);
    let listing = String::from_utf8(ls.stdout).unwrap();
    assert!(
        listing.contains(url.as_str()) && listing.contains("100%"),
        "{listing}"
    );

    // Again: a revalidation at most, no GET for the body, the same bytes.
    server.clear_log();
    let second = dir.path().join("second.flac");
    let out = fetch(&cache, &url, &second);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(std::fs::read(&second).unwrap() == body);
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.method.as_str() != "GET"),
        "{requests:?}"
    );
    assert_eq!(requests.iter().map(|r| r.bytes_sent).sum::<u64>(), 0);

    // The server gone: at once from the cache (the refused revalidation is not retried).
    drop(server);
    let third = dir.path().join("third.flac");
    let out = fetch(&cache, &url, &third);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert!(std::fs::read(&third).unwrap() == body);
    assert!(!err.contains("retrying fetch"), "{err}");
}

#[test]
fn an_hls_fetch_is_served_from_the_cache_with_the_server_gone() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let url = server.url("/media/hls/ts/v1.m3u8").to_string();
    let first = dir.path().join("first.ts");
    let out = fetch(&cache, &url, &first);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));

    drop(server);
    let second = dir.path().join("second.ts");
    let out = fetch(&cache, &url, &second);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap());
}

#[test]
fn no_cache_fetch_leaves_the_cache_directory_empty() {
    let server = LoopbackServer::start().unwrap();
    server.route("/n.mp3", Route::new(payload(1 << 20, 6)));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let dest = dir.path().join("n.mp3");
    let out = kithara(&[
        "--no-cache",
        "--cache-dir",
        cache.to_str().unwrap(),
        "fetch",
        server.url("/n.mp3").as_str(),
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(std::fs::read(&dest).unwrap(), payload(1 << 20, 6));
    let assets = cache.join("assets");
    let empty = !assets.exists() || std::fs::read_dir(&assets).unwrap().next().is_none();
    assert!(empty, "--no-cache wrote into the cache");
}
