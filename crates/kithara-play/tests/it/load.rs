//! Load control (downloads a bounded time ahead), the persistent cache, and one conversion state
//! across a join of equal rates.

use std::time::Duration;

use kithara_file::{AssetStore, AssetStoreConfig};
use kithara_play::{CacheChoice, Event, LoadControl, NullSink, Player, SinkFormat, WavSink};
use kithara_test_support::{media, Route};

use crate::common::{config, decode, read_wav, server, wait_for, DEADLINE};

/// A 16-bit stereo WAV of `secs` seconds at 22.05 kHz (a quiet ramp, so no sample is silent).
fn long_wav(secs: u32) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..22_050 * secs * 2 {
        w.write_sample((i % 2000) as i16 + 1).unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

#[test]
fn a_paused_track_downloads_only_a_bounded_time_ahead() {
    let server = server();
    let body = long_wav(120); // 10.6 MB, 2 minutes
    let len = body.len() as u64;
    server.route("/long.wav", Route::new(body).content_type("audio/wav"));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    // 88.2 kB/s of audio; 5 s ahead at an assumed 705.6 kbit/s is 441 kB.
    config.load = LoadControl::Ahead(Duration::from_secs(5));
    config.assumed_bitrate = 705_600;
    let sink = WavSink::create(dir.path().join("out.wav"), SinkFormat::new(22_050, 2)).unwrap();
    let player = Player::new(config, sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/long.wav")).unwrap();
    h.play().unwrap();
    h.pause().unwrap(); // the ring fills, decoding waits, the download must stop soon after
    wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    // The download never completes while paused (a slow machine only makes this likelier).
    let completed = server.wait_until(Duration::from_secs(3), |_, stats| stats.bytes_sent >= len);
    assert!(!completed, "the whole file was downloaded while paused");
    let sent = server.stats().bytes_sent;
    // The reader holds at most the ring (2 s) and what the decoder buffers; 5 s ahead on top.
    assert!(sent < 2 * 1024 * 1024, "{sent} bytes sent");
    drop(player);
}

#[test]
fn a_cached_track_plays_again_without_the_server() {
    let server = server();
    let flac = decode(&server, "/media/chirp.flac");
    let cache_dir = tempfile::tempdir().unwrap();
    let store = AssetStore::new(
        AssetStoreConfig::builder()
            .dir(cache_dir.path())
            .metadata_freshness(Duration::from_secs(3600))
            .build(),
    )
    .unwrap();
    let render = |name: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut config = config();
        config.cache = CacheChoice::Store(store.clone());
        let sink = WavSink::create(&path, SinkFormat::new(22_050, 2)).unwrap();
        let player = Player::new(config, sink).unwrap();
        let h = player.handle();
        let events = h.subscribe().unwrap();
        h.append(server.url("/media/chirp.flac")).unwrap();
        h.play().unwrap();
        wait_for(&events, |e| matches!(e, Event::QueueEnded));
        player.close().unwrap();
        read_wav(&path).samples
    };
    assert!(render("first.wav") == flac.samples);
    // The server now fails every request of the track: the cache must serve it.
    server.route(
        "/media/chirp.flac",
        media::get("chirp.flac").unwrap().route().status(500),
    );
    server.clear_log();
    assert!(render("second.wav") == flac.samples);
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
}

#[test]
fn equal_rates_share_one_conversion_across_the_join() {
    let server = server();
    let path = "/media/hls/ts/v0.m3u8";
    let hls = decode(&server, path);
    let dir = tempfile::tempdir().unwrap();
    let render = |paths: &[&str], name: &str| {
        let out = dir.path().join(name);
        let sink = WavSink::create(&out, SinkFormat::new(22_050, 2)).unwrap();
        let player = Player::new(config(), sink).unwrap();
        let h = player.handle();
        let events = h.subscribe().unwrap();
        for p in paths {
            h.append(server.url(p)).unwrap();
        }
        h.play().unwrap();
        wait_for(&events, |e| matches!(e, Event::QueueEnded));
        player.close().unwrap();
        read_wav(&out)
    };
    let one = render(&[path], "one.wav");
    let two = render(&[path, path], "two.wav");
    // One run through the resampler: ceil(2n × out / in) frames, not two rounded halves.
    let n = hls.frames() as u64;
    assert_eq!(two.frames() as u64, (2 * n * 22_050).div_ceil(16_000));
    // Up to where the first track's flush padding mattered, the same samples.
    let safe = (one.frames() - 4096) * 2;
    assert!(two.samples[..safe] == one.samples[..safe]);
}

/// The byte budget follows the file's real bitrate once the decoder knows it: an assumed bitrate
/// ten times too high would let the paused track download 30 s ahead, the real one 3 s.
#[test]
fn a_paused_track_downloads_near_its_time_ahead_at_the_real_bitrate() {
    let server = server();
    let body = long_wav(120); // 705.6 kbit/s: 88.2 kB per second of audio
                              // Paced, so the first request (sized by the assumed bitrate) is still running when the real
                              // bitrate is known and cuts it.
    server.route(
        "/long.wav",
        Route::new(body)
            .content_type("audio/wav")
            .throttle(256 * 1024),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.load = LoadControl::Ahead(Duration::from_secs(3));
    config.assumed_bitrate = 7_056_000;
    let sink = WavSink::create(dir.path().join("out.wav"), SinkFormat::new(22_050, 2)).unwrap();
    let player = Player::new(config, sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/long.wav")).unwrap();
    h.play().unwrap();
    h.pause().unwrap();
    wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    // Paused, the reader stops after the ring (2 s, 176 kB) and the decoder's read-ahead; the
    // download goes on to half the budget at least (132 kB more) ...
    let ahead = server.wait_until(DEADLINE, |_, stats| stats.bytes_sent > 176_400 + 132_300);
    assert!(ahead, "{:?}", server.stats());
    // ... and stops near 3 s (265 kB) beyond it, far below the 2.6 MB the assumed bitrate allows.
    let beyond = server.wait_until(Duration::from_secs(4), |_, stats| {
        stats.bytes_sent >= 900_000
    });
    assert!(!beyond, "downloaded too far ahead: {:?}", server.stats());
    drop(player);
}

/// Position ticks tell the bytes downloaded ahead of the reader besides the decoded seconds; with
/// 3 s ahead they stay within that budget (265 kB, or the 64 KiB smallest request).
#[test]
fn position_ticks_report_the_bytes_buffered_ahead() {
    let server = server();
    server.route(
        "/long.wav",
        Route::new(long_wav(60)).content_type("audio/wav"),
    );
    let mut config = config();
    config.load = LoadControl::Ahead(Duration::from_secs(3));
    let player = Player::new(config, NullSink::new(SinkFormat::new(22_050, 2))).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/long.wav")).unwrap();
    h.play().unwrap();
    let seen = wait_for(
        &events,
        |e| matches!(e, Event::Position { position, .. } if *position >= Duration::from_secs(1)),
    );
    let bytes: Vec<u64> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Position { buffered_bytes, .. } => Some(buffered_bytes.unwrap()),
            _ => None,
        })
        .collect();
    assert!(bytes.iter().any(|&b| b > 0), "{bytes:?}");
    assert!(bytes.iter().all(|&b| b <= 264_600 + 65_536), "{bytes:?}");
    drop(player);
}
