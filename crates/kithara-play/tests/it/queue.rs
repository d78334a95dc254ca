//! Queue edits, repeat, shuffle, failures, volume and HLS variant switches, rendered through the
//! WAV sink (as fast as decoding allows) and compared with the tracks' own decodes.

use std::time::Duration;

use kithara_play::{
    Event, LoadControl, Player, PlayerConfig, PlayerState, Repeat, SinkFormat, WavSink,
};
use kithara_stream::AbrMode;
use kithara_test_support::LoopbackServer;

use crate::common::{config, decode, read_wav, server, wait_for, Pcm};

const FORMAT: SinkFormat = SinkFormat {
    rate: 22_050,
    channels: 2,
};

/// A player rendering into a WAV file in `dir`.
fn wav_player(dir: &tempfile::TempDir, config: PlayerConfig) -> Player {
    let sink = WavSink::create(dir.path().join("out.wav"), FORMAT).unwrap();
    Player::new(config, sink).unwrap()
}

/// Closes the player and reads its file.
fn finish(player: Player, dir: &tempfile::TempDir) -> Pcm {
    player.close().unwrap();
    read_wav(&dir.path().join("out.wav"))
}

fn decodes(server: &LoopbackServer, paths: &[&str]) -> Vec<Vec<f32>> {
    paths.iter().map(|p| decode(server, p).samples).collect()
}

const MP3: &str = "/media/chirp.mp3";
const FLAC: &str = "/media/chirp.flac";
const WAV: &str = "/media/chirp.wav";

#[test]
fn edits_before_play_set_the_order() {
    let server = server();
    let d = decodes(&server, &[MP3, FLAC, WAV]);
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    for p in [MP3, FLAC, WAV] {
        h.append(server.url(p)).unwrap();
    }
    h.move_track(2, 0).unwrap(); // WAV, MP3, FLAC
    h.remove(1).unwrap(); // WAV, FLAC
    h.insert(1, server.url(MP3)).unwrap(); // WAV, MP3, FLAC
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let lens: Vec<usize> = seen
        .iter()
        .filter_map(|e| match e {
            Event::QueueChanged { len } => Some(*len),
            _ => None,
        })
        .collect();
    assert_eq!(lens, [1, 2, 3, 3, 2, 3]);
    let out = finish(player, &dir);
    assert!(out.samples == [d[2].clone(), d[0].clone(), d[1].clone()].concat());
}

#[test]
fn a_failed_track_is_reported_and_skipped() {
    let server = server();
    let d = decodes(&server, &[MP3, FLAC]);
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(MP3)).unwrap();
    let missing = h.append(server.url("/media/missing.mp3")).unwrap();
    h.append(server.url(FLAC)).unwrap();
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let failed: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::TrackFailed { track, error } => Some((*track, error.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{seen:#?}");
    assert_eq!(failed[0].0, missing);
    assert!(failed[0].1.contains("missing.mp3"), "{}", failed[0].1);
    assert!(!seen
        .iter()
        .any(|e| matches!(e, Event::TrackEnded { track } if *track == missing)));
    let out = finish(player, &dir);
    assert!(out.samples == [d[0].clone(), d[1].clone()].concat());
}

#[test]
fn repeat_all_plays_the_queue_again() {
    let server = server();
    let flac = decode(&server, FLAC).samples;
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(FLAC)).unwrap();
    h.set_repeat(Repeat::All).unwrap();
    h.play().unwrap();
    // The second start comes by itself; then the queue may end after the track decoding now.
    wait_for(&events, |e| matches!(e, Event::QueueAdvanced { .. }));
    h.set_repeat(Repeat::Off).unwrap();
    wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let out = finish(player, &dir);
    let n = out.samples.len() / flac.len();
    assert!(n >= 2 && out.samples.len() == n * flac.len(), "{n} rounds");
    assert!(out.samples.chunks(flac.len()).all(|c| c == flac.as_slice()));
}

#[test]
fn shuffle_plays_every_track_once() {
    let server = server();
    let d = decodes(&server, &[MP3, FLAC, WAV]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.shuffle_seed = Some(3);
    let player = wav_player(&dir, config);
    let h = player.handle();
    let events = h.subscribe().unwrap();
    let ids: Vec<_> = [MP3, FLAC, WAV]
        .iter()
        .map(|p| h.append(server.url(p)).unwrap())
        .collect();
    h.set_shuffle(true).unwrap();
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let order: Vec<usize> = seen
        .iter()
        .filter_map(|e| match e {
            Event::TrackStarted { track, .. } => ids.iter().position(|i| i == track),
            _ => None,
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2]);
    let out = finish(player, &dir);
    let expected: Vec<f32> = order.iter().flat_map(|&i| d[i].clone()).collect();
    assert!(out.samples == expected);
}

#[test]
fn volume_scales_after_its_ramp() {
    let server = server();
    let flac = decode(&server, FLAC).samples;
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.set_volume(0.5).unwrap();
    h.append(server.url(FLAC)).unwrap();
    h.play().unwrap();
    wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let out = finish(player, &dir);
    assert_eq!(out.samples.len(), flac.len());
    // The gain ramps from 1 to 0.5 over 20 ms (441 frames), then halves every sample exactly.
    let ramp = 2 * 441;
    assert!(out.samples[ramp..]
        .iter()
        .zip(&flac[ramp..])
        .all(|(o, s)| *o == s * 0.5));
}

#[test]
fn an_abr_change_is_heard_as_a_variant_switch() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    // Lay out little ahead, so the segments after the change follow it.
    config.load = LoadControl::Ahead(Duration::from_secs(4));
    let player = wav_player(&dir, config);
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/media/hls/master.m3u8")).unwrap();
    h.set_abr_mode(AbrMode::Fixed(0)).unwrap(); // the stream opens on variant 0
    h.play().unwrap();
    // Paused at once: the ring fills and decoding waits, a few seconds in.
    h.pause().unwrap();
    let paused = |e: &Event| matches!(e, Event::StateChanged(PlayerState::Paused));
    let mut seen = wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    if !seen.iter().any(paused) {
        seen.extend(wait_for(&events, paused));
    }
    h.set_abr_mode(AbrMode::Fixed(2)).unwrap();
    h.play().unwrap();
    seen.extend(wait_for(&events, |e| matches!(e, Event::QueueEnded)));
    let last_variant = seen.iter().rev().find_map(|e| match e {
        Event::VariantSwitched { variant, .. } => Some(*variant),
        _ => None,
    });
    assert_eq!(last_variant, Some(Some(2)), "{seen:#?}");
    // The bitrates told are the master playlist's BANDWIDTH of variants 0, then 2.
    let started = seen.iter().find_map(|e| match e {
        Event::TrackStarted { bitrate, .. } => Some(*bitrate),
        _ => None,
    });
    assert_eq!(started, Some(Some(20_000)), "{seen:#?}");
    let last_bitrate = seen.iter().rev().find_map(|e| match e {
        Event::VariantSwitched { bitrate, .. } => Some(*bitrate),
        _ => None,
    });
    assert_eq!(last_bitrate, Some(Some(36_000)), "{seen:#?}");
    assert!(seen.iter().any(|e| matches!(e, Event::TrackEnded { .. })));
    let out = finish(player, &dir);
    // 30.08 s at 16 kHz, converted to 22.05 kHz.
    assert_eq!(out.frames() as u64, (481_280u64 * 22_050).div_ceil(16_000));
}

#[test]
fn a_bad_index_is_an_error_event() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(FLAC)).unwrap();
    h.jump(5).unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::Error(_)));
    let Some(Event::Error(e)) = seen.last() else {
        unreachable!()
    };
    assert!(matches!(
        **e,
        kithara_play::Error::NoSuchIndex { index: 5, len: 1 }
    ));
}

#[test]
fn a_track_appended_near_the_end_still_plays() {
    let server = server();
    let d = decodes(&server, &[FLAC, MP3]);
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(FLAC)).unwrap();
    h.play().unwrap();
    // Whether the decoding has ended by now or not, the appended track follows.
    wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    let mp3 = h.append(server.url(MP3)).unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::TrackStarted { track, .. } if *track == mp3)));
    let out = finish(player, &dir);
    assert!(out.samples == [d[0].clone(), d[1].clone()].concat());
}

#[test]
fn play_after_the_end_goes_on_with_what_was_appended() {
    let server = server();
    let d = decodes(&server, &[FLAC, MP3]);
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(FLAC)).unwrap();
    h.play().unwrap();
    wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let mp3 = h.append(server.url(MP3)).unwrap();
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::TrackStarted { track, .. } if *track == mp3)));
    let out = finish(player, &dir);
    assert!(out.samples == [d[0].clone(), d[1].clone()].concat());
}

#[test]
fn an_opened_stream_plays_once() {
    let server = server();
    let flac = decode(&server, FLAC).samples;
    let dir = tempfile::tempdir().unwrap();
    let player = wav_player(&dir, config());
    // The caller opens the stream itself, on the player's downloader.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let file_config =
        kithara_file::FileConfig::remote(server.url(FLAC), player.downloader().clone()).build();
    let stream = rt
        .block_on(kithara_stream::Stream::<kithara_file::File>::new(
            file_config,
        ))
        .unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    let track = kithara_play::Track::from_stream(stream, "my stream");
    h.append(track.clone()).unwrap();
    let again = h.append(track).unwrap();
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let failed = seen.iter().find_map(|e| match e {
        Event::TrackFailed { track, error } if *track == again => Some(error.clone()),
        _ => None,
    });
    assert!(matches!(
        failed.as_deref(),
        Some(kithara_play::Error::Consumed { .. })
    ));
    let out = finish(player, &dir);
    assert!(out.samples == flac);
}
