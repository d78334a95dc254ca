//! `kithara info` against the bundled media on a loopback server and on disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_fails, kithara, media_server, stderr, tagged_mp3};
use kithara_test_support::{media, Route};

#[test]
fn json_report_of_a_remote_flac() {
    let server = media_server();
    let url = server.url("/media/chirp.flac");
    let len = media::get("chirp.flac").unwrap().bytes.len() as u64;

    let out = kithara(&["info", url.as_str(), "--json"]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source"], url.as_str());
    assert_eq!(v["codec"], "FLAC");
    assert_eq!(v["container"], "FLAC");
    assert_eq!(v["sample_rate"], 22_050);
    assert_eq!(v["channels"], 2);
    assert_eq!(v["frames"], 88_200);
    assert_eq!(v["duration_secs"], 4.0);
    assert_eq!(v["size_bytes"], len);
    // Computed from the length and the duration: bytes × 8 / 4 s.
    assert_eq!(v["bitrate_bps"], len * 2);
}

#[test]
fn text_report_of_a_local_mp3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chirp.mp3");
    std::fs::write(&path, media::get("chirp.mp3").unwrap().bytes).unwrap();

    let out = kithara(&["info", path.to_str().unwrap()]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "codec        MP3",
        "container    MPEG audio",
        "sample rate  22050 Hz",
        "channels     2",
        "duration     4.000 s (88200 frames)",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
}

#[test]
fn a_stream_without_declared_duration_reports_unknown_bitrate() {
    let server = media_server();
    let out = kithara(&["info", server.url("/media/chirp.aac").as_str(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["codec"], "AAC-LC");
    assert_eq!(v["container"], "ADTS");
    assert!(
        v["duration_secs"].is_null() && v["bitrate_bps"].is_null(),
        "{v}"
    );
}

#[test]
fn an_html_page_is_refused() {
    let server = media_server();
    server.route(
        "/login.mp3",
        Route::new("<!DOCTYPE html><html><body>Please log in</body></html>")
            .content_type("text/html"),
    );
    let url = server.url("/login.mp3");
    let out = kithara(&["info", url.as_str()]);
    assert_fails(&out, 1, &["HTML", url.as_str()]);
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_resource_is_a_404() {
    let server = media_server();
    let url = server.url("/media/nope.flac");
    let out = kithara(&["info", url.as_str(), "--json"]);
    assert_fails(&out, 1, &["404", url.as_str()]);
    assert!(out.stdout.is_empty());
}

/// Without the `opus` feature, which decodes it.
#[cfg(not(feature = "opus"))]
#[test]
fn opus_is_an_unsupported_codec() {
    let server = media_server();
    let out = kithara(&["info", server.url("/media/chirp.opus").as_str()]);
    assert_fails(
        &out,
        1,
        &["unsupported codec", "Opus", "chirp.opus", "`opus` feature"],
    );
}

#[test]
fn hls_reports_its_variants_and_duration() {
    let server = media_server();
    let out = kithara(&[
        "info",
        server.url("/media/hls/master.m3u8").as_str(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["codec"], "AAC-LC");
    assert_eq!(v["sample_rate"], 16_000);
    assert_eq!(v["channels"], 1);
    assert_eq!(v["live"], false);
    let secs = v["duration_secs"].as_f64().unwrap();
    assert!((secs - 30.0).abs() < 0.2, "{secs}");
    let bandwidths: Vec<u64> = v["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["bandwidth_bps"].as_u64().unwrap())
        .collect();
    assert_eq!(bandwidths, vec![20_000, 28_000, 36_000]);
    assert!(v["variants"][0]["codecs"]
        .as_str()
        .unwrap()
        .contains("mp4a.40.2"));
    // A variant that does not exist is a clear error.
    let out = kithara(&[
        "decode",
        server.url("/media/hls/master.m3u8").as_str(),
        "-o",
        "-",
        "--variant",
        "7",
    ]);
    assert_fails(&out, 1, &["no variant 7", "3"]);
}

#[test]
fn a_playlist_served_without_its_extension_is_read_as_hls() {
    let server = media_server();
    let master = media::get("hls/master.m3u8").unwrap();
    server.route(
        "/media/hls/live-radio",
        Route::new(master.bytes.to_vec()).content_type("audio/x-mpegurl; charset=utf-8"),
    );
    let out = kithara(&[
        "info",
        server.url("/media/hls/live-radio").as_str(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["codec"], "AAC-LC");
    assert_eq!(v["variants"].as_array().map(Vec::len), Some(3));
}

#[test]
fn usage_errors_exit_2() {
    assert_fails(&kithara(&["info"]), 2, &["URL|PATH"]);
    assert_fails(&kithara(&["info", "a.mp3", "--bogus"]), 2, &["--bogus"]);
}

#[test]
fn probing_a_large_file_downloads_little_and_never_the_tail() {
    let server = media_server();
    // 64 MiB: the MP3, then silence padding the file out.
    let mp3 = media::get("chirp.mp3").unwrap().bytes;
    let mut body = mp3.to_vec();
    body.resize(64 << 20, 0);
    server.route("/big.mp3", Route::new(body).content_type("audio/mpeg"));

    let out = kithara(&["info", server.url("/big.mp3").as_str(), "--json"]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["size_bytes"], 64u64 << 20);
    // The download paused 256 KiB ahead of what probing read; the tail was never asked for.
    let sent = server.stats().bytes_sent;
    assert!(sent <= 1 << 20, "{sent} bytes sent");
    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        let start = r
            .range
            .as_deref()
            .and_then(|h| h.strip_prefix("bytes="))
            .and_then(|h| h.split('-').next())
            .map_or(0, |s| s.parse::<u64>().unwrap());
        assert!(start < 1 << 20, "{r:?}");
    }
}

#[test]
fn the_tags_of_an_mp3_are_reported() {
    let server = media_server();
    server.route(
        "/kit.mp3",
        Route::new(tagged_mp3("kit big")).content_type("audio/mpeg"),
    );
    let url = server.url("/kit.mp3");
    let out = kithara(&["info", url.as_str()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in ["title        kit big", "artist       kithara"] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let out = kithara(&["info", url.as_str(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tags"]["title"], "kit big");
    assert_eq!(v["tags"]["artist"], "kithara");
    assert_eq!(v["tags"]["cover_art"], false);
    // Untagged: no tags at all.
    let out = kithara(&["info", server.url("/media/chirp.wav").as_str(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("tags").is_none(), "{v}");
}

/// The ID3v1 tag at the end of a complete (local) file: its title, artist and track number.
#[test]
fn the_id3v1_tag_of_a_complete_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tail.mp3");
    let mut body = media::get("chirp.mp3").unwrap().bytes.to_vec();
    let mut tag = b"TAG".to_vec();
    for (text, n) in [
        ("kit tail", 30),
        ("kithara", 30),
        ("", 30),
        ("2026", 4),
        ("", 28),
    ] {
        let mut f = text.as_bytes().to_vec();
        f.resize(n, 0);
        tag.extend(f);
    }
    tag.extend([0, 4, 0]); // v1.1: track 4, genre 0
    assert_eq!(tag.len(), 128);
    body.extend(tag);
    std::fs::write(&path, body).unwrap();

    let out = kithara(&["info", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "title        kit tail",
        "artist       kithara",
        "track        4",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let out = kithara(&["info", path.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tags"]["title"], "kit tail");
    assert_eq!(v["tags"]["track_number"], 4);
}
