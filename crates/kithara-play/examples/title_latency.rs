//! Title latency: how far the playback position is from a title's media time when the player
//! delivers its `NowPlaying` event (goal: 0 ± one decoded chunk).
//!
//! The loopback server sends 6 MP3 files back to back in one body (what a simple stream server
//! does), each with its ID3 title; the player plays it in real time through the null sink (10 ms
//! periods) with 1 ms position ticks. For each title the latency is the position of the first
//! tick after its event (ticks come from the frames the sink consumed, in the same pass as the
//! event) less the title's media time.
//!
//! ```sh
//! cargo run --release -p kithara-play --example title_latency
//! ```
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::Duration;

use kithara_play::{CacheChoice, Event, NullSink, Player, PlayerConfig, SinkFormat};
use kithara_stream::dl::DownloaderConfig;
use kithara_test_support::{media, LoopbackServer, Route};

const FILES: usize = 6;
/// One decoded chunk of the fixture: an MPEG-2 layer III frame, 576 samples at 22.05 kHz.
const CHUNK: Duration = Duration::from_nanos(576 * 1_000_000_000 / 22_050);

/// The MP3 fixture with its (empty) ID3v2 tag replaced by one titled `title`.
fn tagged_mp3(title: &str) -> Vec<u8> {
    let mp3 = media::get("chirp.mp3").unwrap().bytes;
    let size = mp3[6..10]
        .iter()
        .fold(0usize, |a, &b| (a << 7) | usize::from(b));
    let mut frame = b"TIT2".to_vec();
    frame.extend(u32::try_from(title.len() + 1).unwrap().to_be_bytes());
    frame.extend([0, 0, 0]);
    frame.extend(title.as_bytes());
    let n = frame.len();
    let mut out = b"ID3\x03\x00\x00\x00\x00".to_vec();
    out.extend([(n >> 7) as u8 & 0x7F, n as u8 & 0x7F]);
    out.extend(frame);
    out.extend_from_slice(&mp3[10 + size..]);
    out
}

fn main() {
    let server = LoopbackServer::start().unwrap();
    let body: Vec<u8> = (0..FILES)
        .flat_map(|i| tagged_mp3(&format!("title {i}")))
        .collect();
    server.route(
        "/radio.mp3",
        Route::new(body).content_type("audio/mpeg").no_range(),
    );
    let mut config = PlayerConfig::builder()
        .downloader(DownloaderConfig::builder().system_proxy(false).build())
        .cache(CacheChoice::Off)
        .build();
    config.tick = Duration::from_millis(1);
    let sink = NullSink::new(SinkFormat::new(22_050, 2)).period(Duration::from_millis(10));
    let player = Player::new(config, sink).unwrap();
    let handle = player.handle();
    let events = handle.subscribe().unwrap();
    handle.append(server.url("/radio.mp3")).unwrap();
    handle.play().unwrap();

    let mut waiting: Option<(String, Duration)> = None;
    let mut latencies = Vec::new();
    while let Some(e) = events.recv_timeout(Duration::from_secs(60)) {
        match e {
            Event::NowPlaying {
                now_playing,
                position,
                ..
            } => waiting = Some((now_playing.title.unwrap_or_default(), position)),
            Event::Position { position, .. } => {
                if let Some((title, at)) = waiting.take() {
                    let late = position.saturating_sub(at);
                    let early = at.saturating_sub(position);
                    println!("{title:<8} at {at:>10.3?}  heard at {position:>10.3?}  latency {late:.1?} (early {early:.1?})");
                    latencies.push(late.max(early));
                }
            }
            Event::QueueEnded => break,
            _ => {}
        }
    }
    player.close().unwrap();
    latencies.sort();
    let median = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or_default();
    let max = latencies.last().copied().unwrap_or_default();
    println!(
        "{} titles: latency median {median:.1?}, max {max:.1?}; one decoded chunk is {CHUNK:.1?}, one sink period 10 ms",
        latencies.len()
    );
}
