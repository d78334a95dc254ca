//! `kithara decode` against the bundled media on a loopback server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_fails, f32_samples, kithara, media_server, stderr};
use kithara_test_support::Route;

/// 4 s of 22.05 kHz stereo.
const FRAMES: usize = 88_200;

#[test]
fn stdout_gets_every_frame_as_raw_f32() {
    let server = media_server();
    let out = kithara(&[
        "decode",
        server.url("/media/chirp.flac").as_str(),
        "-o",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout.len(), FRAMES * 2 * 4);
    let samples = f32_samples(&out.stdout);
    assert!(samples.iter().any(|s| s.abs() > 0.1), "silence");
    assert!(samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
}

#[test]
fn a_time_window_has_exactly_its_frames_and_matches_the_full_decode() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    for name in ["chirp.flac", "chirp.mp3"] {
        let url = server.url(&format!("/media/{name}"));
        let full = dir.path().join(format!("{name}.full.f32"));
        let part = dir.path().join(format!("{name}.part.f32"));

        let out = kithara(&["decode", url.as_str(), "-o", full.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let out = kithara(&[
            "decode",
            url.as_str(),
            "-o",
            part.to_str().unwrap(),
            "--start",
            "1.25",
            "--duration",
            "1.5",
        ]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));

        let full = f32_samples(&std::fs::read(full).unwrap());
        let window = f32_samples(&std::fs::read(part).unwrap());
        assert_eq!(full.len(), FRAMES * 2, "{name}");
        // 1.5 s at 22050 Hz, stereo.
        assert_eq!(window.len(), 33_075 * 2, "{name}");
        // Frame-accurate: the window starts at frame 1.25 × 22050 = 27562.5 → 27563 (nearest).
        let at = 27_563 * 2;
        assert!(
            window == full[at..at + window.len()],
            "{name}: the window is not the full decode at its start frame"
        );
    }
}

#[test]
fn a_window_past_the_end_stops_at_the_end() {
    let server = media_server();
    let url = server.url("/media/chirp.wav");
    let out = kithara(&[
        "decode",
        url.as_str(),
        "-o",
        "-",
        "--start",
        "3",
        "--duration",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout.len(), 22_050 * 2 * 4);
}

#[test]
fn wav_output_is_32_bit_float_readable_by_hound() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("out.wav");
    let url = server.url("/media/chirp.mp3");

    let out = kithara(&["decode", url.as_str(), "-o", wav.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let raw = kithara(&["decode", url.as_str(), "-o", "-", "-q"]);

    let mut reader = hound::WavReader::open(&wav).unwrap();
    let spec = reader.spec();
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 22_050);
    assert_eq!(spec.bits_per_sample, 32);
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    let samples: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    assert_eq!(samples.len(), FRAMES * 2);
    assert!(
        samples == f32_samples(&raw.stdout),
        "WAV and raw f32 differ"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a .part file is left"
    );
}

#[test]
fn resampling_keeps_the_duration() {
    let server = media_server();
    let url = server.url("/media/chirp.flac");
    let out = kithara(&["decode", url.as_str(), "-o", "-", "--rate", "48000"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(out.stdout.len(), 192_000 * 2 * 4);

    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("w.wav");
    let out = kithara(&[
        "decode",
        url.as_str(),
        "-o",
        wav.to_str().unwrap(),
        "--rate",
        "44100",
        "--start",
        "0.5",
        "--duration",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().sample_rate, 44_100);
    assert_eq!(reader.len(), 88_200 * 2);
}

#[test]
fn failures_exit_1_with_one_line_and_leave_no_file() {
    let server = media_server();
    server.route(
        "/page.flac",
        Route::new("<html><head><title>Not here</title></head></html>").content_type("text/html"),
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.wav");
    let dest = dest.to_str().unwrap();

    let html = server.url("/page.flac");
    assert_fails(
        &kithara(&["decode", html.as_str(), "-o", dest]),
        1,
        &["HTML", html.as_str()],
    );
    let missing = server.url("/media/missing.mp3");
    assert_fails(
        &kithara(&["decode", missing.as_str(), "-o", dest]),
        1,
        &["404", missing.as_str()],
    );
    // Without the `opus` feature (which decodes it), Opus fails naming the feature.
    #[cfg(not(feature = "opus"))]
    {
        let opus = server.url("/media/chirp.opus");
        assert_fails(
            &kithara(&["decode", opus.as_str(), "-o", dest]),
            1,
            &["unsupported codec Opus", "`opus` feature"],
        );
    }
    let flac = server.url("/media/chirp.flac");
    assert_fails(
        &kithara(&["decode", flac.as_str(), "-o", dest, "--start", "60"]),
        1,
        &["seeking to 60.000 s"],
    );

    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_bad_output_path_fails_before_any_request() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/media/chirp.flac");

    let missing = dir.path().join("no/such/dir/out.wav");
    let out = kithara(&["decode", url.as_str(), "-o", missing.to_str().unwrap()]);
    assert_fails(&out, 1, &["does not exist"]);
    let as_dir = dir.path().join("d.wav");
    std::fs::create_dir(&as_dir).unwrap();
    let out = kithara(&["decode", url.as_str(), "-o", as_dir.to_str().unwrap()]);
    assert_fails(&out, 1, &["is a directory"]);

    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn usage_errors_exit_2() {
    let server = media_server();
    let url = server.url("/media/chirp.flac");
    let url = url.as_str();
    assert_fails(&kithara(&["decode", url]), 2, &["--output"]);
    assert_fails(
        &kithara(&["decode", url, "-o", "out.mp3"]),
        2,
        &[".wav", ".f32"],
    );
    assert_fails(
        &kithara(&["decode", url, "-o", "-", "--start=-1"]),
        2,
        &["--start"],
    );
    assert_fails(
        &kithara(&["decode", url, "-o", "-", "--duration", "0"]),
        2,
        &["--duration"],
    );
    assert_fails(
        &kithara(&["decode", url, "-o", "-", "--rate", "12"]),
        2,
        &["--rate"],
    );
    assert_fails(
        &kithara(&["decode", url, "-o", "-", "--variant", "1"]),
        1,
        &["--variant", "HLS"],
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

/// Without an extension only the server's answer tells a file from a playlist: `--variant` on
/// what turns out to be a progressive file fails after that one request.
#[test]
fn variant_on_a_file_without_an_extension_fails_after_one_request() {
    let server = media_server();
    let flac = kithara_test_support::media::get("chirp.flac").unwrap();
    server.route(
        "/listen",
        Route::new(flac.bytes.to_vec()).content_type("audio/flac"),
    );
    let url = server.url("/listen");
    let out = kithara(&["decode", url.as_str(), "-o", "-", "--variant", "1"]);
    assert_fails(&out, 1, &["--variant", "HLS"]);
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
}

#[test]
fn a_truncated_file_yields_its_audio_then_fails() {
    let server = media_server();
    let mp3 = kithara_test_support::media::get("chirp.mp3").unwrap().bytes;
    server.route(
        "/cut.mp3",
        Route::new(&mp3[..20_000]).content_type("audio/mpeg"),
    );
    let url = server.url("/cut.mp3");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cut.wav");

    let out = kithara(&["decode", url.as_str(), "-o", "-"]);
    assert_fails(&out, 1, &["truncated at byte 20000", url.as_str()]);
    // The decodable audio went out first: whole stereo frames, about half of the 4 s.
    assert_eq!(out.stdout.len() % 8, 0);
    let frames = out.stdout.len() / 8;
    assert!((FRAMES / 4..FRAMES).contains(&frames), "{frames} frames");

    let out = kithara(&["decode", url.as_str(), "-o", dest.to_str().unwrap()]);
    assert_fails(&out, 1, &["truncated"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    server.route("/empty.flac", Route::new(Vec::<u8>::new()));
    let out = kithara(&["decode", server.url("/empty.flac").as_str(), "-o", "-"]);
    assert_fails(&out, 1, &["empty file"]);
}

#[test]
fn a_reader_closing_stdout_early_ends_the_decode_quietly() {
    use std::{io::Read, process::Stdio};
    let server = media_server();
    let url = server.url("/media/chirp.wav");
    let mut child = common::command(&["decode", url.as_str(), "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -c 4096`: read a little, then close the pipe (705 600 bytes would follow).
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 4096];
    stdout.read_exact(&mut head).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert!(!err.contains("error"), "stderr: {err}");
}

#[test]
fn an_hls_variant_decodes_to_its_whole_duration() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("hls.wav");
    let out = kithara(&[
        "decode",
        server.url("/media/hls/master.m3u8").as_str(),
        "-o",
        wav.to_str().unwrap(),
        "--variant",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let reader = hound::WavReader::open(&wav).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels), (16_000, 1));
    let frames = reader.duration();
    // 30 s of 16 kHz, within one AAC frame (and the encoder's priming) of the playlist's length.
    assert!(
        (i64::from(frames) - 480_000).abs() <= 2 * 1024,
        "{frames} frames"
    );
    let segments = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/media/hls/ts/v1-"))
        .count();
    assert!(segments >= 15, "segments of variant 1 only: {segments}");
    assert!(server
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/media/hls/ts/v0-")
            && !r.path.starts_with("/media/hls/ts/v2-")));
}
