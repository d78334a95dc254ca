//! Now-playing on the audio clock: a stream of MP3 files back to back, each with its title,
//! rendered through the WAV sink; each title is announced once the sink consumed its audio.

use std::time::Duration;

use kithara_play::{Event, Player, SinkFormat, WavSink};
use kithara_test_support::{LoopbackServer, Route};

use crate::common::{config, decode, read_wav, server, wait_for};

/// The MP3 fixture with its (empty) ID3v2 tag replaced by one titled `title`.
fn tagged_mp3(title: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kithara-loopback/media/chirp.mp3"
    );
    let mp3 = std::fs::read(path).unwrap();
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

fn serve_radio(server: &LoopbackServer) -> Vec<u8> {
    let body: Vec<u8> = ["one", "two", "three"]
        .iter()
        .flat_map(|t| tagged_mp3(t))
        .collect();
    server.route(
        "/radio.mp3",
        Route::new(body.clone())
            .content_type("audio/mpeg")
            .no_range(),
    );
    server.route(
        "/one.mp3",
        Route::new(tagged_mp3("one")).content_type("audio/mpeg"),
    );
    body
}

#[test]
fn titles_of_files_back_to_back_are_announced_when_their_audio_is_consumed() {
    let server = server();
    serve_radio(&server);
    let single = decode(&server, "/one.mp3");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let mut cfg = config();
    cfg.tick = Duration::from_millis(1);
    let sink = WavSink::create(&path, SinkFormat::new(22_050, 2)).unwrap();
    let player = Player::new(cfg, sink).unwrap();
    let handle = player.handle();
    let events = handle.subscribe().unwrap();
    handle.append(server.url("/radio.mp3")).unwrap();
    handle.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    player.close().unwrap();

    let out = read_wav(&path);
    assert_eq!(out.samples.len(), 3 * single.samples.len());
    for k in 0..3 {
        let n = single.samples.len();
        assert!(
            out.samples[k * n..(k + 1) * n] == single.samples[..],
            "file {k}"
        );
    }
    let file = Duration::from_nanos(single.frames() as u64 * 1_000_000_000 / 22_050);
    let mut titles = Vec::new();
    // The audio clock: every tick before a title's event is before its time, every tick after
    // it at or after its time.
    let mut last_tick = Duration::ZERO;
    let mut title_at = Duration::ZERO;
    for e in &seen {
        match e {
            Event::NowPlaying {
                now_playing,
                position,
                ..
            } => {
                assert!(
                    last_tick <= *position,
                    "a tick at {last_tick:?} before {position:?}"
                );
                title_at = *position;
                titles.push((now_playing.title.clone().unwrap(), *position));
            }
            Event::Position {
                position,
                now_playing,
                ..
            } => {
                assert!(
                    *position >= title_at,
                    "{position:?} after the title at {title_at:?}"
                );
                let current = titles.last().map(|t| t.0.as_str());
                assert_eq!(
                    now_playing.as_ref().and_then(|n| n.title.as_deref()),
                    current
                );
                last_tick = *position;
            }
            _ => {}
        }
    }
    assert_eq!(
        titles,
        [
            ("one".to_owned(), Duration::ZERO),
            ("two".to_owned(), file),
            ("three".to_owned(), file * 2)
        ]
    );
}
