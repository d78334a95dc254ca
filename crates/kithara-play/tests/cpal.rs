//! The cpal sink for real, on Linux: ALSA's default PCM is routed by an `.asoundrc` in a
//! temporary `HOME` to the `file` plugin over `null`, so what cpal plays lands in a file, which
//! is compared with the player's own render of the same track.
//!
//! Its own test binary (feature `cpal`): the `HOME` it sets must be in place before ALSA reads
//! its configuration, for this process only. ALSA's `null` PCM takes samples as fast as they come
//! (it keeps no clock), so the device runs faster than real time, underruns again and again and
//! the capture holds long runs of silence (tens of MB, in the temporary directory); the audible
//! samples must still be exactly the render's, in order.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use kithara_play::{CacheChoice, CpalSink, Event, Player, PlayerConfig, SinkFormat, WavSink};
use kithara_stream::dl::DownloaderConfig;
use kithara_test_support::LoopbackServer;

fn config() -> PlayerConfig {
    PlayerConfig::builder()
        .downloader(DownloaderConfig::builder().system_proxy(false).build())
        .cache(CacheChoice::Off)
        .build()
}

/// Plays `url` on `player` and waits for the end of the queue.
fn play_to_end(player: &Player, url: url::Url) {
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(url).unwrap();
    h.play().unwrap();
    let start = Instant::now();
    loop {
        let left = Duration::from_secs(60).saturating_sub(start.elapsed());
        match events.recv_timeout(left) {
            Some(Event::QueueEnded) => return,
            Some(_) => {}
            None => panic!("the queue did not end within 60 s"),
        }
    }
}

#[test]
fn cpal_plays_what_the_player_renders() {
    let home = tempfile::tempdir().unwrap();
    let capture = home.path().join("capture.raw");
    std::fs::write(
        home.path().join(".asoundrc"),
        format!(
            "pcm.!default {{\n  type plug\n  slave {{\n    pcm \"kithara_capture\"\n    \
             format FLOAT_LE\n    rate 44100\n    channels 2\n  }}\n}}\n\
             pcm.kithara_capture {{\n  type file\n  slave.pcm \"null\"\n  file \"{}\"\n  \
             format \"raw\"\n}}\n",
            capture.display()
        ),
    )
    .unwrap();
    // Before anything opens ALSA; this binary has this one test.
    std::env::set_var("HOME", home.path());

    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    let url = server.url("/media/chirp.flac");

    let sink = CpalSink::default_device().unwrap();
    let format = kithara_play::AudioSink::format(&sink);
    assert_eq!(
        format,
        SinkFormat::new(44_100, 2),
        "the device's own format"
    );
    let player = Player::new(config(), sink).unwrap();
    play_to_end(&player, url.clone());
    player.close().unwrap();

    let expected_path = home.path().join("expected.wav");
    let player = Player::new(config(), WavSink::create(&expected_path, format).unwrap()).unwrap();
    play_to_end(&player, url);
    player.close().unwrap();
    let expected: Vec<f32> = hound::WavReader::open(&expected_path)
        .unwrap()
        .into_samples::<f32>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(expected.len(), 2 * 4 * 44_100);

    let raw = std::fs::read(&capture).unwrap();
    let played: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // The device got silence while the player buffered; apart from it, every sample in order.
    let audible = |s: &[f32]| s.iter().copied().filter(|v| *v != 0.0).collect::<Vec<_>>();
    let (played, expected) = (audible(&played), audible(&expected));
    assert_eq!(played.len(), expected.len());
    assert!(played == expected, "the device played other samples");
}
