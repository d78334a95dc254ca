//! `kithara play` against the bundled media on a loopback server: a queue rendered to WAV, the
//! events as JSON lines, the sink without the `cpal` feature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{assert_fails, f32_samples, kithara, media_server, stderr, tagged_mp3};
use kithara_test_support::Route;

/// The tracks' own decodes (raw f32), back to back.
fn decodes(urls: &[String], cache: &Path, dir: &Path) -> Vec<f32> {
    let mut all = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let out_path = dir.join(format!("{i}.f32"));
        let out = kithara(&[
            "--cache-dir",
            cache.to_str().unwrap(),
            "decode",
            url,
            "-o",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        all.extend(f32_samples(&std::fs::read(&out_path).unwrap()));
    }
    all
}

fn wav_samples(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples = reader.samples::<f32>().map(Result::unwrap).collect();
    (spec, samples)
}

#[test]
fn a_queue_of_three_urls_renders_their_decodes_back_to_back() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let urls: Vec<String> = ["chirp.mp3", "chirp.flac", "chirp.wav"]
        .iter()
        .map(|n| server.url(&format!("/media/{n}")).to_string())
        .collect();
    let wav = dir.path().join("queue.wav");
    let sink = format!("wav:{}", wav.display());
    let mut args = vec![
        "--cache-dir",
        cache.to_str().unwrap(),
        "play",
        "--sink",
        &sink,
    ];
    args.extend(["--rate", "22050", "--channels", "2"]);
    args.extend(urls.iter().map(String::as_str));
    let out = kithara(&args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));

    let (spec, rendered) = wav_samples(&wav);
    assert_eq!((spec.sample_rate, spec.channels), (22_050, 2));
    let expected = decodes(&urls, &cache, dir.path());
    // 3 × 4 s of 22.05 kHz stereo: the frame count is the sum, not a frame inserted or lost.
    assert_eq!(expected.len(), 3 * 88_200 * 2);
    assert_eq!(rendered.len(), expected.len(), "frame count");
    assert!(
        rendered == expected,
        "the render is not the decodes back to back"
    );
    // Not a line on stdout without --json; a line per track on stderr.
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr(&out).matches("playing [").count(),
        3,
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_prints_the_events_as_lines() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("q.wav");
    let sink = format!("wav:{}", wav.display());
    let (a, b) = (
        server.url("/media/chirp.flac").to_string(),
        server.url("/media/chirp.mp3").to_string(),
    );
    let out = kithara(&["--no-cache", "play", "--json", "--sink", &sink, &a, &b]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let started: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "track_started")
        .collect();
    assert_eq!(started.len(), 2, "{kinds:?}");
    assert_eq!(started[0]["index"], 0);
    assert_eq!(started[0]["codec"], "flac");
    assert_eq!(started[1]["index"], 1);
    assert_eq!(started[1]["sample_rate"], 22_050);
    // The bitrate of a file: its length × 8 / its duration.
    let mp3_len = kithara_loopback::media::get("chirp.mp3")
        .unwrap()
        .bytes
        .len() as f64;
    let secs = started[1]["duration_secs"].as_f64().unwrap();
    let bitrate = started[1]["bitrate"].as_f64().unwrap();
    assert!((bitrate - mp3_len * 8.0 / secs).abs() <= 1.0, "{bitrate}");
    assert_eq!(kinds.iter().filter(|k| **k == "track_ended").count(), 2);
    assert!(kinds.contains(&"queue_advanced"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"queue_ended"), "{kinds:?}");
    // No status line and no plain lines with --json.
    assert!(!stderr(&out).contains("playing ["), "{}", stderr(&out));
}

#[test]
fn a_failed_track_is_reported_and_the_queue_goes_on() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("q.wav");
    let sink = format!("wav:{}", wav.display());
    let missing = server.url("/media/missing.mp3").to_string();
    let good = server.url("/media/chirp.flac").to_string();
    let out = kithara(&[
        "--no-cache",
        "play",
        "--rate",
        "22050",
        "--sink",
        &sink,
        &missing,
        &good,
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("failed: "), "{err}");
    assert!(err.contains("error: 1 of 2 tracks failed"), "{err}");
    let (_, rendered) = wav_samples(&wav);
    assert_eq!(
        rendered.len(),
        88_200 * 2,
        "the good track is rendered whole"
    );
}

#[cfg(not(feature = "cpal"))]
#[test]
fn the_default_sink_names_the_feature_it_needs() {
    let out = kithara(&["--no-cache", "play", "/nonexistent.mp3"]);
    assert_fails(&out, 1, &["--features cpal", "--sink null", "wav:FILE"]);
}

#[test]
fn a_bad_sink_is_a_usage_error() {
    let out = kithara(&["play", "--sink", "alsa", "x.mp3"]);
    assert_fails(&out, 2, &["default, null or wav:FILE"]);
}

#[test]
fn json_play_prints_the_titles_of_files_back_to_back() {
    let server = media_server();
    let body: Vec<u8> = ["one", "two"].iter().flat_map(|t| tagged_mp3(t)).collect();
    server.route(
        "/radio.mp3",
        Route::new(body).content_type("audio/mpeg").no_range(),
    );
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("wav:{}", dir.path().join("r.wav").display());
    let url = server.url("/radio.mp3");
    let out = kithara(&[
        "--no-cache",
        "play",
        "--json",
        "--sink",
        &sink,
        url.as_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let titles: Vec<(String, f64)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "now_playing")
        .map(|e| {
            (
                e["title"].as_str().unwrap().to_owned(),
                e["position_secs"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert_eq!(titles[0], ("one".to_owned(), 0.0));
    assert_eq!(titles[1].0, "two");
    assert!((titles[1].1 - 4.0).abs() < 0.001, "{titles:?}");
}
