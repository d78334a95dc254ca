//! Peak memory while streaming a large body through the persistent disk cache.
//!
//! ```sh
//! cargo run --release -p kithara-file --example cache_rss            # 1 GiB
//! KITHARA_RSS_MIB=256 cargo run --release -p kithara-file --example cache_rss
//! ```
//!
//! The loopback server runs in a child process (this example, re-run with `KITHARA_RSS_SERVE`),
//! so the generated body does not count in this process's memory. This process streams the whole
//! body through `StorageKind::Cache` into a temporary cache directory, reads it to the end with a
//! 64 KiB buffer, and prints its peak resident set size (`VmHWM` in `/proc/self/status`, Linux).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Stdio},
    time::Instant,
};

use kithara_file::{File, FileConfig, StorageKind};
use kithara_storage::{AssetStore, AssetStoreConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream, StreamOptions,
};
use kithara_test_support::{payload, LoopbackServer, Route};

const SERVE: &str = "KITHARA_RSS_SERVE";

fn main() {
    let mib: usize = std::env::var("KITHARA_RSS_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    if std::env::var_os(SERVE).is_some() {
        return serve(mib);
    }
    let mut server = Command::new(std::env::current_exe().unwrap())
        .env(SERVE, "1")
        .env("KITHARA_RSS_MIB", mib.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url: url::Url = line.trim().parse().unwrap();
    let before = status("VmHWM");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dl = {
        let _g = rt.enter();
        Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = AssetStore::new(
        AssetStoreConfig::builder()
            .dir(dir.path())
            .max_size(u64::MAX)
            .build(),
    )
    .unwrap();
    let started = Instant::now();
    let mut stream = rt
        .block_on(Stream::<File>::new(
            FileConfig::remote(url, dl)
                .options(
                    StreamOptions::builder()
                        .storage(StorageKind::Cache(store.clone()))
                        .build(),
                )
                .build(),
        ))
        .unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    // The last batches are synced by the storage's flusher thread; make them durable now.
    stream.source().storage().unwrap().flush_cache().unwrap();
    let synced = started.elapsed().as_secs_f64();
    drop(stream);
    assert_eq!(total, (mib as u64) << 20);
    let complete = store.list().unwrap().first().is_some_and(|e| e.complete);
    println!(
        "streamed {} MiB through the disk cache in {secs:.2} s ({:.0} MiB/s); all synced and recorded after {synced:.2} s; cached complete: {complete}",
        total >> 20,
        (total >> 20) as f64 / secs
    );
    println!(
        "VmHWM before streaming: {} KiB; peak: {} KiB; VmRSS now: {} KiB",
        before,
        status("VmHWM"),
        status("VmRSS")
    );
    drop(server.stdin.take());
    let _ = server.wait();
}

/// A `/proc/self/status` field in KiB (0 where unavailable).
fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child: serves the body until its stdin closes.
fn serve(mib: usize) {
    let server = LoopbackServer::start().unwrap();
    server.route("/big.bin", Route::new(payload(mib << 20, 5)));
    let mut out = std::io::stdout();
    writeln!(out, "{}", server.url("/big.bin")).unwrap();
    out.flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
