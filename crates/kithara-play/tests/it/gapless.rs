//! Queues rendered through the WAV sink: the file is the tracks' own decodes back to back.

use kithara_play::{Event, Player, SinkFormat, WavSink};

use crate::common::{config, decode, read_wav, server, wait_for};

/// Plays `paths` as a queue into a WAV file of `format`; returns the file's samples and the
/// events seen.
fn render(
    server: &kithara_test_support::LoopbackServer,
    paths: &[&str],
    format: SinkFormat,
) -> (crate::common::Pcm, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let player = Player::new(config(), WavSink::create(&path, format).unwrap()).unwrap();
    let handle = player.handle();
    let events = handle.subscribe().unwrap();
    for p in paths {
        handle.append(server.url(p)).unwrap();
    }
    handle.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    player.close().unwrap();
    (read_wav(&path), seen)
}

#[test]
fn mp3_then_flac_joins_sample_exactly() {
    let server = server();
    let mp3 = decode(&server, "/media/chirp.mp3");
    let flac = decode(&server, "/media/chirp.flac");
    assert_eq!((mp3.rate, mp3.channels), (22_050, 2));
    let (out, events) = render(
        &server,
        &["/media/chirp.mp3", "/media/chirp.flac"],
        SinkFormat::new(22_050, 2),
    );
    assert_eq!(out.frames(), mp3.frames() + flac.frames());
    let (a, b) = out.samples.split_at(mp3.samples.len());
    assert!(a == mp3.samples.as_slice(), "the MP3 part differs");
    assert!(b == flac.samples.as_slice(), "the FLAC part differs");
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::TrackStarted { .. }))
        .count();
    let ended = events
        .iter()
        .filter(|e| matches!(e, Event::TrackEnded { .. }))
        .count();
    let advanced = events
        .iter()
        .filter(|e| matches!(e, Event::QueueAdvanced { .. }))
        .count();
    assert_eq!((started, ended, advanced), (2, 2, 1), "{events:#?}");
}

#[test]
fn mp3_flac_and_hls_render_back_to_back() {
    let server = server();
    let hls_path = "/media/hls/ts/v0.m3u8";
    let mp3 = decode(&server, "/media/chirp.mp3");
    let flac = decode(&server, "/media/chirp.flac");
    let hls = decode(&server, hls_path);
    assert_eq!((hls.rate, hls.channels), (16_000, 1));
    let format = SinkFormat::new(22_050, 2);
    // The HLS track alone, converted (16 kHz mono to 22.05 kHz stereo) by the player.
    let (hls_alone, _) = render(&server, &[hls_path], format);
    let converted = (hls.frames() as u64 * 22_050).div_ceil(16_000);
    assert_eq!(hls_alone.frames() as u64, converted);
    let (out, _) = render(
        &server,
        &["/media/chirp.mp3", "/media/chirp.flac", hls_path],
        format,
    );
    assert_eq!(
        out.frames(),
        mp3.frames() + flac.frames() + hls_alone.frames()
    );
    let expected: Vec<f32> = [mp3.samples, flac.samples, hls_alone.samples].concat();
    assert!(
        out.samples == expected,
        "the render differs from the decodes back to back"
    );
}

#[test]
fn hls_at_its_own_rate_equals_its_decode() {
    let server = server();
    let path = "/media/hls/ts/v0.m3u8";
    let hls = decode(&server, path);
    let (out, _) = render(&server, &[path], SinkFormat::new(16_000, 1));
    assert_eq!(out.frames(), hls.frames());
    assert!(out.samples == hls.samples);
}

/// An AAC M4A whose edit list declares 1024 priming frames and 4 s of audio, as an encoder
/// writes it (the bundled file, remuxed from ADTS, declares none): its decode is trimmed to the
/// declared length, so two of them join with no gap.
fn gapless_m4a() -> Vec<u8> {
    let mut d = kithara_test_support::media::get("chirp.m4a")
        .unwrap()
        .bytes
        .to_vec();
    let at = d.windows(4).position(|w| w == b"elst").unwrap();
    // elst: version/flags, entry count, then segment duration (movie timescale: ms) and media time.
    d[at + 12..at + 16].copy_from_slice(&4000u32.to_be_bytes());
    d[at + 16..at + 20].copy_from_slice(&1024u32.to_be_bytes());
    d
}

#[test]
fn m4a_then_m4a_joins_without_a_gap() {
    let server = server();
    server.route(
        "/gapless.m4a",
        kithara_test_support::Route::new(gapless_m4a()).content_type("audio/mp4"),
    );
    let one = decode(&server, "/gapless.m4a");
    // 4 s at 22.05 kHz: the priming and the padding are gone.
    assert_eq!((one.rate, one.channels, one.frames()), (22_050, 2, 88_200));
    let (out, _) = render(
        &server,
        &["/gapless.m4a", "/gapless.m4a"],
        SinkFormat::new(22_050, 2),
    );
    assert_eq!(out.frames(), 2 * one.frames(), "no frame inserted or lost");
    let (a, b) = out.samples.split_at(one.samples.len());
    assert!(a == one.samples.as_slice(), "the first track differs");
    assert!(b == one.samples.as_slice(), "the second track differs");
}

/// The bundled M4A files encoded by ffmpeg's AAC encoder, one declaring its priming and length by
/// an edit list, the other by an `iTunSMPB` tag: each decodes to its declared 3 s, and the two
/// queued join with no frame inserted or lost.
#[test]
fn encoded_m4a_by_edit_list_then_by_itunsmpb_join_without_a_gap() {
    let server = server();
    let paths = ["/media/gapless-elst.m4a", "/media/gapless-smpb.m4a"];
    let a = decode(&server, paths[0]);
    let b = decode(&server, paths[1]);
    assert_eq!((a.rate, a.channels, a.frames()), (16_000, 1, 48_000));
    assert_eq!((b.rate, b.channels, b.frames()), (16_000, 1, 48_000));
    let (out, _) = render(&server, &paths, SinkFormat::new(16_000, 1));
    assert_eq!(
        out.frames(),
        a.frames() + b.frames(),
        "no frame inserted or lost"
    );
    let (x, y) = out.samples.split_at(a.samples.len());
    assert!(x == a.samples.as_slice(), "the first track differs");
    assert!(y == b.samples.as_slice(), "the second track differs");
}
