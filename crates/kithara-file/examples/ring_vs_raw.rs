//! Read-to-end through a ring against a raw `reqwest` body loop, interleaved rounds on one server.
//!
//! ```sh
//! cargo run --release -p kithara-file --example ring_vs_raw                      # loopback, 256 MiB
//! KITHARA_BENCH_URL=http://127.0.0.1:18080/body.bin cargo run --release -p kithara-file --example ring_vs_raw
//! ```
//!
//! Each round times a raw `reqwest` `chunk()` loop, `Stream<File>` through an 8 MiB ring (1 MiB
//! kept behind) and through memory storage, 64 KiB reads on a plain thread; prints the medians
//! and the ratios to raw. (`kithara-bench`'s throughput case has the same rows, with its peers.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::{io::Read, time::Instant};

use kithara_file::{File, FileConfig, StorageKind};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream, StreamOptions,
};
use kithara_test_support::{payload, LoopbackServer, Route};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _server;
    let url: url::Url = match std::env::var("KITHARA_BENCH_URL") {
        Ok(u) => u.parse().unwrap(),
        Err(_) => {
            let s = LoopbackServer::start().unwrap();
            s.route("/body.bin", Route::new(payload(256 << 20, 1)));
            let u = s.url("/body.bin");
            _server = s;
            u
        }
    };
    let dl = {
        let _g = rt.enter();
        Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap()
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let rounds = 5;
    let (mut raw, mut ring, mut mem) = (vec![], vec![], vec![]);
    let mut len = 0u64;
    for _ in 0..rounds {
        let t = Instant::now();
        len = rt.block_on(async {
            let mut resp = client.get(url.clone()).send().await.unwrap();
            let mut n = 0u64;
            while let Some(c) = resp.chunk().await.unwrap() {
                n += c.len() as u64;
            }
            n
        });
        raw.push(t.elapsed().as_secs_f64());
        for (storage, out) in [
            (
                StorageKind::Ring {
                    capacity: 8 << 20,
                    keep_behind: 1 << 20,
                },
                &mut ring,
            ),
            (StorageKind::Memory, &mut mem),
        ] {
            let t = Instant::now();
            let config = FileConfig::remote(url.clone(), dl.clone())
                .options(StreamOptions::builder().storage(storage).build())
                .build();
            let mut s = rt.block_on(Stream::<File>::new(config)).unwrap();
            let mut buf = vec![0u8; 64 << 10];
            let mut n = 0u64;
            loop {
                let k = s.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
            assert_eq!(n, len);
            out.push(t.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mib = len as f64 / (1 << 20) as f64;
    let (r, g, m) = (median(&mut raw), median(&mut ring), median(&mut mem));
    println!("{mib:.0} MiB from {url}, {rounds} interleaved rounds, medians:");
    println!("raw reqwest      {:.1} ms  {:.0} MiB/s", r * 1e3, mib / r);
    println!(
        "ring (8 MiB)     {:.1} ms  {:.0} MiB/s  {:.2}x raw",
        g * 1e3,
        mib / g,
        r / g
    );
    println!(
        "memory           {:.1} ms  {:.0} MiB/s  {:.2}x raw",
        m * 1e3,
        mib / m,
        r / m
    );
}
