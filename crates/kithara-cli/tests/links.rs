//! `decode`, `info` and `play` accept a station link (`.pls`, `.m3u`) itself: its first entry
//! that opens is what they read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{f32_samples, kithara, media_server, stderr};
use kithara_test_support::Route;

#[test]
fn decode_info_and_play_take_a_station_link() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct.f32");
    let url = server.url("/media/chirp.mp3").to_string();
    let out = kithara(&["decode", &url, "-o", direct.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let want = f32_samples(&std::fs::read(&direct).unwrap());

    let pls = "[playlist]\nFile1=/gone.mp3\nFile2=/media/chirp.mp3\nNumberOfEntries=2\n";
    server.route(
        "/station.pls",
        Route::new(pls).content_type("audio/x-scpls"),
    );
    let m3u = "#EXTM3U\n#EXTINF:-1,Gone\n/gone.mp3\n#EXTINF:-1,Chirp\nmedia/chirp.mp3\n";
    server.route(
        "/station.m3u",
        Route::new(m3u).content_type("audio/x-mpegurl"),
    );
    for link in ["/station.pls", "/station.m3u"] {
        let link = server.url(link).to_string();
        let out_path = dir.path().join("link.f32");
        let out = kithara(&["decode", &link, "-o", out_path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        assert!(
            f32_samples(&std::fs::read(&out_path).unwrap()) == want,
            "{link}"
        );

        let out = kithara(&["info", "--json", &link]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(info["codec"], "MP3", "{info}");

        let wav = dir.path().join("link.wav");
        let sink = format!("wav:{}", wav.display());
        let out = kithara(&["play", "--sink", &sink, "--rate", "22050", &link]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let samples: Vec<f32> = hound::WavReader::open(&wav)
            .unwrap()
            .samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert!(samples == want, "{link}: the player plays the entry");
    }

    // A link whose entries all fail names each failure.
    server.route(
        "/dead.pls",
        Route::new("[playlist]\nFile1=/a.mp3\nFile2=file:///etc/passwd\n"),
    );
    let out = kithara(&["decode", server.url("/dead.pls").as_str(), "-o", "-"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/a.mp3") && err.contains("404") && err.contains("file:///etc/passwd"),
        "{err}"
    );
}
