//! Crash safety of the cache under a real download: a child process (this test binary, re-run
//! with an environment variable) downloads through the cache and is killed with SIGKILL at a
//! seeded random point, 20 times. Every byte any run reads is checked against the payload, and
//! the last run completes the asset byte-identically, having resumed rather than restarted.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Read,
    process::{Command, ExitStatus, Stdio},
    time::Duration,
};

use kithara_file::{File, FileConfig, StorageKind};
use kithara_storage::{AssetStore, AssetStoreConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream, StreamOptions,
};
use kithara_test_support::{payload, Fault, LoopbackServer, Route};

/// `URL|CACHE_DIR|LEN|SEED` for the child run.
const CHILD: &str = "KITHARA_CACHE_KILL_CHILD";
const LEN: usize = 8 << 20;
const SEED: u64 = 77;
const KILLS: usize = 20;
const TEST_NAME: &str = "killed_downloads_resume_byte_identically";

/// Exit codes of the child.
const WRONG_BYTE: i32 = 3;
const FAILED: i32 = 4;

#[test]
fn killed_downloads_resume_byte_identically() {
    if let Ok(spec) = std::env::var(CHILD) {
        std::process::exit(child(&spec));
    }
    let body = payload(LEN, SEED);
    let server = LoopbackServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "{}|{}|{LEN}|{SEED}",
        server.url("/a.bin"),
        dir.path().display()
    );
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    // The furthest byte any response has sent so far.
    let mut reached_end = 0u64;
    for round in 0..KILLS {
        let before = server.stats().bytes_sent;
        // A random amount of fresh bytes (64 KiB..1 MiB) reaches the child, streamed at 16 MiB/s,
        // before it dies; the response stalls after them, never past the byte before the end
        // (no request starts beyond the furthest byte sent so far), so the asset is unfinished at
        // every kill however slowly the test runs.
        let fresh = ((64 << 10) + xorshift(&mut rng) % (1 << 20)).min(LEN as u64 - 1 - reached_end);
        server.route(
            "/a.bin",
            Route::new(body.clone())
                .throttle(16 << 20)
                .fault(Fault::Stall {
                    after: fresh,
                    stall: Duration::from_secs(60),
                    times: 1,
                }),
        );
        let mut child = spawn(&spec);
        let reached = server.wait_until(Duration::from_secs(20), |_, s| {
            s.bytes_sent >= before + fresh
        });
        if let Some(status) = child.try_wait().unwrap() {
            check(status, round);
        }
        assert!(reached, "round {round}: the child made no progress");
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.code().is_some() {
            check(status, round);
        }
        reached_end = reached_end.max(furthest(&server));
        server.clear_log();
    }
    server.route("/a.bin", Route::new(body));
    let before = server.stats().bytes_sent;
    let status = spawn(&spec).wait().unwrap();
    assert_eq!(status.code(), Some(0), "the last run completes: {status:?}");
    let total = server.stats().bytes_sent;
    assert!(
        total < 2 * LEN as u64,
        "{total} bytes sent for a {LEN}-byte asset: runs restarted instead of resuming"
    );
    let last = total - before;
    assert!(last > 0, "every kill landed before the asset was complete");
    assert!(last < LEN as u64, "the last run resumed");
    let store = AssetStore::new(AssetStoreConfig::builder().dir(dir.path()).build()).unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].complete);
}

/// The furthest offset the logged responses of `/a.bin` reached: the start of their range plus
/// what they sent.
fn furthest(server: &LoopbackServer) -> u64 {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| {
            let start = r
                .range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            start + r.bytes_sent
        })
        .max()
        .unwrap_or(0)
}

fn check(status: ExitStatus, round: usize) {
    match status.code() {
        Some(0) => {}
        Some(WRONG_BYTE) => panic!("round {round}: the child read a wrong byte"),
        other => panic!("round {round}: the child failed ({other:?})"),
    }
}

fn spawn(spec: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// The child: reads the whole asset through the cache, checking every byte.
fn child(spec: &str) -> i32 {
    let parts: Vec<&str> = spec.split('|').collect();
    let [url, dir, len, seed] = parts[..] else {
        return FAILED;
    };
    let expected = payload(len.parse().unwrap(), seed.parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dl = rt
        .block_on(async {
            Downloader::new(DownloaderConfig::builder().system_proxy(false).build())
        })
        .unwrap();
    let mut config = AssetStoreConfig::builder().dir(dir).build();
    // Small batches, so that each run keeps most of what it got.
    config.record_batch = 64 << 10;
    let store = AssetStore::new(config).unwrap();
    let url: url::Url = url.parse().unwrap();
    let stream = rt.block_on(Stream::<File>::new(
        FileConfig::remote(url, dl)
            .options(
                StreamOptions::builder()
                    .storage(StorageKind::Cache(store))
                    .build(),
            )
            .build(),
    ));
    let Ok(mut stream) = stream else {
        return FAILED;
    };
    let mut pos = 0usize;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if pos + n > expected.len() || buf[..n] != expected[pos..pos + n] {
                    return WRONG_BYTE;
                }
                pos += n;
            }
            Err(_) => return FAILED,
        }
    }
    // Flushes run on a background thread; a process about to exit makes the last one durable.
    let flushed = stream.source().storage().map(|s| s.flush_cache());
    if pos == expected.len() && matches!(flushed, Some(Ok(()))) {
        0
    } else {
        FAILED
    }
}
