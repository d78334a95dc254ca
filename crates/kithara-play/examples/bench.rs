//! The player's figures, on the loopback server:
//!
//! * time from `play` to the first sample handed to the sink, MP3 and HLS, 50 ms of latency on
//!   every response (median of 5);
//! * peak RSS while a looping queue (MP3, FLAC, HLS) renders 30 minutes of audio as fast as it
//!   decodes, sampled every 5 minutes of audio;
//! * CPU per second of audio played in real time through the null sink (10 s of FLAC).
//!
//! ```sh
//! cargo run --release -p kithara-play --example bench
//! ```
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kithara_play::{
    AudioSink, CacheChoice, Event, NullSink, Output, Player, PlayerConfig, Repeat, Result,
    RunningSink, SinkFormat,
};
use kithara_stream::dl::DownloaderConfig;
use kithara_test_support::{media, LoopbackServer};

const FORMAT: SinkFormat = SinkFormat {
    rate: 22_050,
    channels: 2,
};

/// An offline sink that drops the audio, noting when the first frame came and how many came.
struct Counting {
    first: Arc<Mutex<Option<Instant>>>,
    frames: Arc<Mutex<u64>>,
}

impl AudioSink for Counting {
    fn format(&self) -> SinkFormat {
        FORMAT
    }

    fn start(self: Box<Self>, mut output: Output) -> Result<Box<dyn RunningSink>> {
        std::thread::spawn(move || {
            let mut buf = vec![0.0f32; 4096 * 2];
            while let Some(n) = output.render_blocking(&mut buf) {
                self.first.lock().unwrap().get_or_insert_with(Instant::now);
                *self.frames.lock().unwrap() += n as u64;
            }
        });
        Ok(Box::new(Done))
    }
}

struct Done;

impl RunningSink for Done {
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

fn config() -> PlayerConfig {
    PlayerConfig::builder()
        .downloader(DownloaderConfig::builder().system_proxy(false).build())
        .cache(CacheChoice::Off)
        .build()
}

fn wait(events: &kithara_play::Events, mut pred: impl FnMut(&Event) -> bool) {
    while let Some(e) = events.recv_timeout(Duration::from_secs(120)) {
        if pred(&e) {
            return;
        }
    }
    panic!("no such event");
}

/// Time from `play` to the first frame the sink took.
fn first_sample(server: &LoopbackServer, path: &str) -> Duration {
    let first = Arc::new(Mutex::new(None));
    let sink = Counting {
        first: first.clone(),
        frames: Arc::default(),
    };
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(path)).unwrap();
    let start = Instant::now();
    h.play().unwrap();
    wait(&events, |_| first.lock().unwrap().is_some());
    let at = first.lock().unwrap().unwrap();
    drop(player);
    at - start
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_time() -> Duration {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 per second).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let server = LoopbackServer::start().unwrap();
    let slow = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    for f in media::FILES {
        slow.route(
            &format!("/media/{}", f.name),
            f.route().latency(Duration::from_millis(50)),
        );
    }

    for (name, path) in [
        ("MP3", "/media/chirp.mp3"),
        ("HLS", "/media/hls/master.m3u8"),
    ] {
        let mut runs: Vec<Duration> = (0..5).map(|_| first_sample(&slow, path)).collect();
        runs.sort();
        println!(
            "first sample, {name}, 50 ms latency: {:?} (median of 5)",
            runs[2]
        );
    }

    // 30 minutes of audio, looping MP3 (4 s), FLAC (4 s) and HLS (30.08 s).
    let frames = Arc::new(Mutex::new(0));
    let sink = Counting {
        first: Arc::default(),
        frames: frames.clone(),
    };
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    for p in [
        "/media/chirp.mp3",
        "/media/chirp.flac",
        "/media/hls/ts/v0.m3u8",
    ] {
        h.append(server.url(p)).unwrap();
    }
    h.set_repeat(Repeat::All).unwrap();
    let start = Instant::now();
    h.play().unwrap();
    let target = 30 * 60 * 22_050u64;
    let mut next_report = 5 * 60 * 22_050u64;
    while *frames.lock().unwrap() < target {
        let _ = events.recv_timeout(Duration::from_millis(200));
        let f = *frames.lock().unwrap();
        if f >= next_report {
            println!(
                "  {:>2} min of audio rendered: RSS {} KiB (peak {} KiB)",
                f / 22_050 / 60,
                rss_kib("VmRSS:"),
                rss_kib("VmHWM:")
            );
            next_report += 5 * 60 * 22_050;
        }
    }
    let took = start.elapsed();
    drop(player);
    println!(
        "30 min of audio rendered in {took:?} ({:.0}× real time), peak RSS {} KiB",
        1800.0 / took.as_secs_f64(),
        rss_kib("VmHWM:")
    );

    // Real time through the null sink.
    let player = Player::new(config(), NullSink::new(FORMAT)).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    for _ in 0..3 {
        h.append(server.url("/media/chirp.flac")).unwrap();
    }
    let cpu = cpu_time();
    let wall = Instant::now();
    h.play().unwrap();
    wait(&events, |e| matches!(e, Event::QueueEnded));
    let used = cpu_time() - cpu;
    println!(
        "real time, null sink: {:?} of CPU for 12 s of audio in {:?}: {:.2} ms of CPU per second of audio",
        used,
        wall.elapsed(),
        used.as_secs_f64() * 1000.0 / 12.0
    );
}
