//! Many streams on one `Downloader`, and what one slow disk does to the others.
//!
//! ```sh
//! cargo bench -p kithara-file --bench streams
//! KITHARA_BENCH_MIB=8 KITHARA_BENCH_ROUNDS=3 cargo bench -p kithara-file --bench streams
//! ```
//!
//! Cases, each run `KITHARA_BENCH_ROUNDS` times (default 3) interleaved, medians printed:
//! - `1 × temp file` and `64 × temp file`: streams of `KITHARA_BENCH_MIB` MiB (default 16) each
//!   read to the end concurrently (one reader thread each) through one downloader; the aggregate
//!   throughput of 64 is reported as a ratio to one stream's.
//! - `8 × memory` with and without a ninth command whose writer blocks for 50 ms on every chunk
//!   (a slow disk, declared with `writer_blocks`), on the same downloader; the ratio of the
//!   eight's throughput with it to without it (goal >= 0.8).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::print_stdout)]

use std::{
    io::Read,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use kithara_file::{File, FileConfig, StorageKind};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig, FetchCmd, Peer},
    Stream, StreamOptions,
};
use kithara_test_support::{
    bench::{env_usize, median},
    payload, LoopbackServer, Route,
};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Opens `n` streams of `url` and reads them all to the end concurrently; returns MiB/s in total.
fn read_many(
    rt: &Runtime,
    dl: &Downloader,
    url: &Url,
    n: usize,
    storage: StorageKind,
    len: usize,
) -> f64 {
    let started = Instant::now();
    let streams: Vec<Stream<File>> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..n {
            let config = FileConfig::remote(url.clone(), dl.clone())
                .options(StreamOptions::builder().storage(storage.clone()).build())
                .build();
            v.push(Stream::<File>::new(config).await.expect("open"));
        }
        v
    });
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0;
                loop {
                    match s.read(&mut buf).expect("read") {
                        0 => return total,
                        k => total += k,
                    }
                }
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), len);
    }
    (n * len) as f64 / (1 << 20) as f64 / started.elapsed().as_secs_f64()
}

/// A peer that yields one command whose writer sleeps 50 ms per chunk (a slow disk).
struct SlowDisk {
    cmd: Option<FetchCmd>,
    token: CancellationToken,
}

impl Peer for SlowDisk {
    fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        match self.cmd.take() {
            Some(c) => Poll::Ready(Some(vec![c])),
            None => Poll::Pending,
        }
    }
    fn cancel_token(&self) -> CancellationToken {
        self.token.clone()
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let mib = if quick {
        1
    } else {
        env_usize("KITHARA_BENCH_MIB", 16)
    };
    let rounds = if quick {
        1
    } else {
        env_usize("KITHARA_BENCH_ROUNDS", 3)
    };
    let len = mib << 20;
    let server = LoopbackServer::start().expect("server");
    server.route("/s.bin", Route::new(payload(len, 5)));
    server.route("/slow.bin", Route::new(payload(256 << 20, 6)));
    let url = server.url("/s.bin");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dl = {
        let _g = rt.enter();
        Downloader::new(
            DownloaderConfig::builder()
                .system_proxy(false)
                .max_in_flight(16)
                .build(),
        )
        .unwrap()
    };
    let (mut one, mut many, mut eight, mut eight_slow) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        one.push(read_many(&rt, &dl, &url, 1, StorageKind::TempFile, len));
        many.push(read_many(&rt, &dl, &url, 64, StorageKind::TempFile, len));
        eight.push(read_many(&rt, &dl, &url, 8, StorageKind::Memory, len));
        let token = dl.child_token();
        let slow = FetchCmd::get(server.url("/slow.bin"))
            .with_cancel(token.child_token())
            .writer_blocks(true)
            .writer(|_, _| {
                std::thread::sleep(Duration::from_millis(50));
                Ok(())
            });
        let peer = {
            let _g = rt.enter();
            dl.register(SlowDisk {
                cmd: Some(slow),
                token: token.clone(),
            })
        };
        eight_slow.push(read_many(&rt, &dl, &url, 8, StorageKind::Memory, len));
        peer.cancel();
    }
    let m = |v: &[f64]| median(v).unwrap_or(f64::NAN);
    let (one, many) = (m(&one), m(&many));
    let (eight, eight_slow) = (m(&eight), m(&eight_slow));
    println!("streams: {mib} MiB per stream, {rounds} rounds, medians");
    println!("  1 x temp file        {one:8.0} MiB/s");
    println!(
        "  64 x temp file       {many:8.0} MiB/s aggregate  = {:.2} x one stream",
        many / one
    );
    println!("  8 x memory           {eight:8.0} MiB/s aggregate");
    println!(
        "  8 x memory + slow    {eight_slow:8.0} MiB/s aggregate  = {:.2} x without (goal >= 0.8)",
        eight_slow / eight
    );
}
