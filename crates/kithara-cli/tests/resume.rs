//! `kithara fetch` resumes from the cache after being killed; `kithara cache ls|gc|clear` on a cache directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Write,
    process::{Command, Output, Stdio},
    time::Duration,
};

use kithara_storage::{AssetKey, AssetStore, AssetStoreConfig};
use kithara_test_support::{payload, LoopbackServer, Route};

mod common;

/// The binary with no proxy from the environment: tests talk to loopback directly.
fn kithara() -> Command {
    common::command(&[])
}

fn run(args: &[&str]) -> Output {
    kithara()
        .args(args)
        .output()
        .expect("the kithara binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn killed_fetch_resumes_where_it_stopped() {
    const LEN: usize = 16 << 20;
    let server = LoopbackServer::start().unwrap();
    let body = payload(LEN, 21);
    server.route("/t.mp3", Route::new(body.clone()).throttle(16 << 20));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("t.mp3");
    let part = dir.path().join("t.mp3.part");
    let cache = dir.path().join("cache");
    let url = server.url("/t.mp3");
    let args = [
        "--cache-dir",
        cache.to_str().unwrap(),
        "fetch",
        url.as_str(),
        "-o",
        dest.to_str().unwrap(),
    ];

    // Killed (SIGKILL) once the cache has recorded its first batch of bytes (what the server sent
    // says nothing of what the client stored: socket buffers hold megabytes): no FILE, but a
    // partial asset in the cache.
    let mut child = kithara()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reached = recorded_in_cache(&cache, Duration::from_secs(30));
    child.kill().unwrap();
    let _ = child.wait().unwrap();
    assert!(reached, "the first run recorded progress in the cache");
    assert!(!dest.exists(), "FILE appears only when complete");
    assert!(
        !part.exists(),
        "the bytes are kept in the cache, not in FILE.part"
    );
    assert_partial_in_cache(&cache, &url);

    // The same command continues after validating, and says from where.
    server.clear_log();
    let out = run(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    let at: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("resuming at "))
        .and_then(|r| r.strip_suffix(" bytes"))
        .unwrap_or_else(|| panic!("no resume line in {err:?}"))
        .parse()
        .unwrap();
    assert!(at > 0 && at < LEN as u64, "{at}");
    assert!(
        std::fs::read(&dest).unwrap() == body,
        "resumed bytes differ"
    );
    assert!(!part.exists());
    let ls = text(&run(&["--cache-dir", cache.to_str().unwrap(), "cache", "ls"]).stdout);
    assert!(ls.contains(url.as_str()) && ls.contains("100%"), "{ls}");
    let reqs = server.requests();
    assert_eq!(
        reqs[0].range.as_deref(),
        Some(format!("bytes={at}-").as_str())
    );
    assert!(reqs[0].if_range.is_some(), "the kept bytes are validated");
    let sent: u64 = reqs.iter().map(|r| r.bytes_sent).sum();
    assert_eq!(sent, LEN as u64 - at, "only the missing bytes travel");

    // With --no-cache, what the cache kept is not used: the fetch starts at byte 0.
    std::fs::remove_file(&dest).unwrap();
    let mut child = kithara()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let before = server.stats().bytes_sent;
    server.wait_until(Duration::from_secs(20), |_, s| {
        s.bytes_sent >= before + (1 << 20)
    });
    child.kill().unwrap();
    let _ = child.wait().unwrap();
    server.clear_log();
    let out = run(&[
        "--no-cache",
        "--cache-dir",
        cache.to_str().unwrap(),
        "fetch",
        url.as_str(),
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("resuming"));
    assert!(std::fs::read(&dest).unwrap() == body);
    let first = &server.requests()[0];
    assert_eq!(first.range.as_deref(), Some("bytes=0-"));
    assert_eq!(first.if_range, None);
}

/// Waits (at most `patience`) until the cache in `dir` lists an asset with some bytes recorded.
fn recorded_in_cache(dir: &std::path::Path, patience: Duration) -> bool {
    let until = std::time::Instant::now() + patience;
    while std::time::Instant::now() < until {
        let recorded = AssetStore::new(
            AssetStoreConfig::builder()
                .dir(dir)
                .background_eviction(false)
                .build(),
        )
        .and_then(|store| store.list())
        .is_ok_and(|list| {
            list.iter()
                .any(|a| a.percent_complete().is_some_and(|p| p > 0.0))
        });
        if recorded {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The cache in `dir` holds one partial asset, of `url`.
fn assert_partial_in_cache(dir: &std::path::Path, url: &url::Url) {
    let store = AssetStore::new(
        AssetStoreConfig::builder()
            .dir(dir)
            .background_eviction(false)
            .build(),
    )
    .unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].label.as_deref(), Some(url.as_str()));
    let done = list[0].percent_complete().unwrap();
    assert!(done > 0.0 && done < 100.0, "{done}");
}

#[test]
fn cache_ls_gc_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let store = AssetStore::new(
        AssetStoreConfig::builder()
            .dir(dir.path())
            .background_eviction(false)
            .build(),
    )
    .unwrap();
    for (i, (len, written)) in [(4096u64, 4096u64), (8192, 4096), (16384, 16384)]
        .into_iter()
        .enumerate()
    {
        let key = AssetKey::new(
            &format!("http://example.com/{i}.mp3?token=secret")
                .parse()
                .unwrap(),
        );
        let asset = store.open(&key).unwrap();
        asset.set_len(len).unwrap();
        asset
            .data_file()
            .write_all(&vec![7u8; written as usize])
            .unwrap();
        asset.record(0..written).unwrap();
        asset.close().unwrap();
    }
    assert_eq!(store.list().unwrap().len(), 3);
    drop(store);
    let d = dir.path().to_str().unwrap();

    let out = run(&["--cache-dir", d, "cache", "ls"]);
    let ls = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    for i in 0..3 {
        assert!(ls.contains(&format!("http://example.com/{i}.mp3")), "{ls}");
    }
    assert!(!ls.contains("secret"), "queries stay out of listings: {ls}");
    assert!(ls.contains("50%") && ls.contains("100%"), "{ls}");
    assert!(ls.contains("3 assets"), "{ls}");

    // Down to 24 KiB (the newest asset takes 16 KiB of data and a block of index): the oldest
    // assets go, the most recent one stays.
    let out = run(&["--cache-dir", d, "cache", "gc", "--max-size", "24K"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let ls = text(&run(&["--cache-dir", d, "cache", "ls"]).stdout);
    assert!(ls.contains("1 assets") && ls.contains("/2.mp3"), "{ls}");

    let out = run(&["--cache-dir", d, "cache", "clear"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&run(&["--cache-dir", d, "cache", "ls"]).stdout).contains("0 assets"));

    let out = run(&["--no-cache", "--cache-dir", d, "cache", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--no-cache"));
    let out = run(&["--cache-dir", d, "cache", "gc", "--max-size", "lots"]);
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn interrupted_fetch_keeps_everything_that_arrived() {
    const LEN: usize = 8 << 20;
    let server = LoopbackServer::start().unwrap();
    let body = payload(LEN, 22);
    server.route("/i.mp3", Route::new(body.clone()).throttle(8 << 20));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("i.mp3");
    let cache = dir.path().join("cache");
    let url = server.url("/i.mp3");
    let args = [
        "--cache-dir",
        cache.to_str().unwrap(),
        "fetch",
        url.as_str(),
        "-o",
        dest.to_str().unwrap(),
    ];

    let child = kithara()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reached = server.wait_until(Duration::from_secs(20), |_, s| s.bytes_sent >= 1 << 20);
    // Ctrl-C: the fetch stops, records what arrived (no 4 MiB batch to wait for) and says so.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success() && reached);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.contains("interrupted") && err.contains("is kept"),
        "{err}"
    );
    assert!(!dest.exists());

    let out = run(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    let at: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("resuming at "))
        .and_then(|r| r.strip_suffix(" bytes"))
        .unwrap_or_else(|| panic!("no resume line in {err:?}"))
        .parse()
        .unwrap();
    assert!(at > 0, "what arrived before Ctrl-C was kept");
    assert!(std::fs::read(&dest).unwrap() == body);
}
