//! Peak memory over a long internet-radio recording: a loopback station (320 kbit/s nominal,
//! ICY metadata every 16 000 bytes, a reset every 64 MiB) read through the ring as fast as
//! possible, for the bytes of 30 minutes of audio (or `KITHARA_RADIO_MINUTES`).
//!
//! ```sh
//! cargo run --release -p kithara-file --example radio_rss
//! KITHARA_RADIO_MINUTES=120 cargo run --release -p kithara-file --example radio_rss
//! KITHARA_RADIO_REALTIME=1 cargo run --release -p kithara-file --example radio_rss  # 30 min of wall time
//! ```
//!
//! With `KITHARA_RADIO_REALTIME` set, the station sends at its bitrate, as a real one does, and
//! the recording takes the minutes it records.
//!
//! Prints the peak resident set size (`VmHWM`, Linux) and the bytes the ring held at every tenth
//! of the recording: with a bounded ring both stay flat however long the recording.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::{io::Read, time::Instant};

use kithara_file::{Endless, File, FileConfig, RadioConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use kithara_test_support::{payload, Fault, LoopbackServer, Radio, Route};

fn main() {
    let minutes: u64 = std::env::var("KITHARA_RADIO_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let kbps = 320u64;
    let total = minutes * 60 * kbps * 1000 / 8;
    let server = LoopbackServer::start().unwrap();
    let radio = Radio::new(payload(1 << 20, 11))
        .metaint(16_000)
        .header("icy-br", &kbps.to_string());
    let route = Route::radio(radio).fault(Fault::ResetAfter {
        after: 64 << 20,
        times: u32::MAX,
    });
    let route = match std::env::var_os("KITHARA_RADIO_REALTIME") {
        Some(_) => route.throttle(kbps * 1000 / 8),
        None => route,
    };
    server.route("/live", route);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dl = {
        let _g = rt.enter();
        Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap()
    };
    let before = status("VmHWM");
    let config = FileConfig::remote(server.url("/live"), dl)
        .radio(RadioConfig::builder().endless(Endless::Always).build())
        .build();
    let mut stream = rt.block_on(Stream::<File>::new(config)).unwrap();
    let ring = stream.source().storage().unwrap().ring_capacity().unwrap();
    println!(
        "{minutes} min at {kbps} kbit/s = {} MiB of audio through a {} KiB ring (30 s)",
        total >> 20,
        ring >> 10
    );
    let started = Instant::now();
    let mut buf = vec![0u8; 64 << 10];
    let (mut read, mut next_mark, mut held) = (0u64, total / 10, 0u64);
    while read < total {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        read += n as u64;
        held = held.max(stream.source().storage().unwrap().covered());
        if read >= next_mark {
            println!(
                "{:>5.1} min of audio: VmHWM {} KiB, VmRSS {} KiB, ring held at most {} KiB",
                read as f64 * 8.0 / (kbps as f64 * 1000.0) / 60.0,
                status("VmHWM"),
                status("VmRSS"),
                held >> 10
            );
            next_mark += total / 10;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "read {} MiB in {secs:.2} s ({:.0} MiB/s); VmHWM before opening {before} KiB; peak {} KiB",
        read >> 20,
        (read >> 20) as f64 / secs,
        status("VmHWM")
    );
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
