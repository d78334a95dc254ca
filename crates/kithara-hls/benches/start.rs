//! Time from `Stream::<Hls>::new` to the first segment byte, in round trips, with 50 ms of added
//! latency on every response of the bundled ladder.
//!
//! ```sh
//! cargo bench -p kithara-hls --bench start
//! ```
//!
//! Runs the TS ladder (master, media, segment) and the fMP4 ladder (master, media, init +
//! segment in parallel) eight times each and prints the median time, that time in round trips of
//! 50 ms, and the requests the server saw before the first byte arrived.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::print_stdout)]

use std::{
    io::Read,
    time::{Duration, Instant},
};

use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use kithara_test_support::{bench::median, media, LoopbackServer};

const RTT: Duration = Duration::from_millis(50);

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let rounds = if quick { 1 } else { 8 };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LoopbackServer::start().unwrap();
    for f in media::FILES.iter().filter(|f| f.name.starts_with("hls/")) {
        server.route(&format!("/media/{}", f.name), f.route().latency(RTT));
    }
    let dl = {
        let _g = rt.enter();
        Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap()
    };
    println!(
        "hls start: {} ms added to every response, {rounds} rounds",
        RTT.as_millis()
    );
    for master in ["hls/master.m3u8", "hls/master-fmp4.m3u8"] {
        let mut times = Vec::new();
        let mut requests = 0;
        for _ in 0..rounds {
            server.clear_log();
            let url = server.url(&format!("/media/{master}"));
            let started = Instant::now();
            let mut s = rt
                .block_on(Stream::<Hls>::new(
                    HlsConfig::builder().url(url).downloader(dl.clone()).build(),
                ))
                .unwrap();
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte).unwrap();
            times.push(started.elapsed());
            requests = server.requests().len();
        }
        let t = median(&times).unwrap_or_default();
        println!(
            "  {master:24} first byte after {:7.1} ms = {:.2} round trips ({requests} requests)",
            t.as_secs_f64() * 1000.0,
            t.as_secs_f64() / RTT.as_secs_f64()
        );
    }
}
