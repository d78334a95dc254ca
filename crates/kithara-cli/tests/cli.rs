//! Runs the built `kithara` binary against an in-process loopback server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{kithara, stderr};
use kithara_test_support::{payload, LoopbackServer, Route};

#[test]
fn fetch_copies_a_remote_body() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(3 << 20, 7);
    server.route("/track.mp3", Route::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("track.mp3");

    let out = kithara(&[
        "fetch",
        server.url("/track.mp3").as_str(),
        "-o",
        dest.to_str().unwrap(),
    ]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(
        std::fs::read(&dest).unwrap() == body,
        "fetched bytes differ"
    );
    assert!(!dir.path().join("track.mp3.part").exists());
}

/// `-o NAME` with no directory writes into the current directory.
#[test]
fn fetch_into_a_bare_file_name() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(1 << 20, 8);
    server.route("/track.mp3", Route::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();

    let out = common::command(&[
        "fetch",
        server.url("/track.mp3").as_str(),
        "-o",
        "track.mp3",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        std::fs::read(dir.path().join("track.mp3")).unwrap() == body,
        "fetched bytes differ"
    );
}

#[test]
fn fetch_of_a_missing_resource_fails_cleanly() {
    let server = LoopbackServer::start().unwrap();
    let url = server.url("/missing.mp3");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.mp3");

    let out = kithara(&["fetch", url.as_str(), "-o", dest.to_str().unwrap()]);

    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr: {err}");
    assert!(lines[0].starts_with("error:"), "stderr: {err}");
    assert!(lines[0].contains("404"), "stderr: {err}");
    assert!(lines[0].contains(url.as_str()), "stderr: {err}");
    assert!(!dest.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn fetch_copies_a_local_file() {
    let dir = tempfile::tempdir().unwrap();
    let body = payload(1_000_003, 11);
    let src = dir.path().join("in.flac");
    std::fs::write(&src, &body).unwrap();
    let dest = dir.path().join("copy.flac");

    let out = kithara(&[
        "fetch",
        src.to_str().unwrap(),
        "-o",
        dest.to_str().unwrap(),
        "--quiet",
    ]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(&out));
    assert!(std::fs::read(&dest).unwrap() == body, "copied bytes differ");
}

#[test]
fn fetch_of_a_missing_local_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.flac");
    let src = dir.path().join("nope.flac");

    let out = kithara(&["fetch", src.to_str().unwrap(), "-o", dest.to_str().unwrap()]);

    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error:") && err.contains("nope.flac"),
        "stderr: {err}"
    );
    assert!(!dest.exists());
}

#[test]
fn demo_runs_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let out = kithara(&[
        "demo",
        "--size-mib",
        "4",
        "--seeks",
        "5",
        "--out",
        dir.path().to_str().unwrap(),
    ]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("4.0 MiB"), "stdout: {stdout}");
    assert!(stdout.contains("full read"), "stdout: {stdout}");
    assert!(stdout.contains("5 × 64.0 KiB"), "stdout: {stdout}");
    assert!(stdout.contains("http requests"), "stdout: {stdout}");
    assert!(stdout.contains("verification    OK"), "stdout: {stdout}");
    // The decoding table: one row per fixture, all frames, seeks verified.
    for format in ["MP3", "FLAC"] {
        let row = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(format))
            .unwrap_or_else(|| panic!("no {format} row: {stdout}"));
        assert!(row.contains("× realtime") && row.contains("88200"), "{row}");
    }
    // The HLS ladder (30.08 s at 16 kHz) through Stream<Hls>.
    let hls = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("HLS/TS"))
        .unwrap_or_else(|| panic!("no HLS row: {stdout}"));
    assert!(hls.contains("481280"), "{hls}");
    assert!(
        stdout.contains("15 time seeks land on the linear decode's samples"),
        "stdout: {stdout}"
    );
    // demo.wav: the gapless queue MP3 → FLAC → HLS through the player, 32-bit float at the
    // MP3's format; MP3 and FLAC checked sample for sample by the demo, HLS converted and checked
    // sample for sample against its render alone (whose scratch file is removed: see below).
    assert!(
        stdout.contains("2 tracks equal their own decodes sample for sample, 1 converted"),
        "stdout: {stdout}"
    );
    assert!(
        stdout.contains("and equal to their render alone sample for sample"),
        "stdout: {stdout}"
    );
    let reader = hound::WavReader::open(dir.path().join("demo.wav")).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 22_050));
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    // 4 s + 4 s at 22.05 kHz, then 481280 frames at 16 kHz converted: ceil(481280 × 22050 / 16000).
    assert_eq!(reader.len(), (2 * 88_200 + 663_264) * 2);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn demo_into_a_missing_directory_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let out = kithara(&["demo", "--out", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ") && err.contains("not a directory"),
        "{err}"
    );
    assert!(!missing.exists());
}

#[test]
fn usage_errors_exit_2() {
    let out = kithara(&["fetch"]);
    assert_eq!(out.status.code(), Some(2));
    // A typo in the scheme is a usage error, not a local path that fails later.
    let out = kithara(&["fetch", "htps://example.invalid/a.mp3", "-o", "x.mp3"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("htps"), "stderr: {}", stderr(&out));
}

#[test]
fn an_unwritable_output_fails_before_any_request() {
    let server = LoopbackServer::start().unwrap();
    server.route("/t.mp3", Route::new(payload(1 << 20, 3)));
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/t.mp3");

    let out = kithara(&["fetch", url.as_str(), "-o", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));

    let missing = dir.path().join("no/such/dir/t.mp3");
    let out = kithara(&["fetch", url.as_str(), "-o", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn fetch_writes_straight_to_the_part_file_and_renames_it() {
    let server = LoopbackServer::start().unwrap();
    let body = payload(5 << 20, 17);
    server.route("/big.flac", Route::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.flac");

    let out = kithara(&[
        "fetch",
        server.url("/big.flac").as_str(),
        "-o",
        dest.to_str().unwrap(),
        "-q",
    ]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        std::fs::read(&dest).unwrap() == body,
        "fetched bytes differ"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // One request for the whole body.
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
}

#[test]
fn secrets_in_the_url_never_reach_stderr() {
    let server = LoopbackServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.mp3");
    let mut url = server.url("/private.mp3?token=SECRET-TOKEN");
    url.set_username("alice").unwrap();
    url.set_password(Some("PASSWORD-123")).unwrap();

    let out = kithara(&["-vvv", "fetch", url.as_str(), "-o", dest.to_str().unwrap()]);

    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("404"), "{err}");
    assert!(err.contains("/private.mp3"), "{err}");
    for secret in ["SECRET-TOKEN", "PASSWORD-123", "alice"] {
        assert!(!err.contains(secret), "{secret} leaked: {err}");
    }
}

/// The TS segments of variant 1 of the bundled ladder, in play order.
fn ts_v1_segments() -> Vec<u8> {
    let playlist = std::str::from_utf8(
        kithara_test_support::media::get("hls/ts/v1.m3u8")
            .unwrap()
            .bytes,
    )
    .unwrap();
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .flat_map(|u| {
            kithara_test_support::media::get(&format!("hls/ts/{}", u.trim()))
                .unwrap()
                .bytes
                .iter()
                .copied()
        })
        .collect()
}

#[test]
fn fetch_of_an_hls_playlist_writes_its_segments_in_order() {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v1.ts");
    let out = kithara(&[
        "fetch",
        server.url("/media/hls/ts/v1.m3u8").as_str(),
        "-o",
        dest.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        std::fs::read(&dest).unwrap() == ts_v1_segments(),
        "the segments, in order"
    );
    assert!(!dir.path().join("v1.ts.part").exists());
}

#[test]
fn fetch_detects_a_playlist_by_its_content_type() {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    // No `.m3u8` in the URL: only the Content-Type says it is a playlist.
    let playlist = kithara_test_support::media::get("hls/ts/v1.m3u8").unwrap();
    server.route(
        "/media/hls/ts/listen",
        Route::new(playlist.bytes.to_vec()).content_type("application/vnd.apple.mpegurl"),
    );
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/media/hls/ts/listen").to_string();
    for (name, extra) in [("resumable.ts", None), ("plain.ts", Some("--no-cache"))] {
        let dest = dir.path().join(name);
        let mut args = vec!["fetch", url.as_str(), "-o", dest.to_str().unwrap(), "-q"];
        args.extend(extra);
        let out = kithara(&args);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        assert!(
            std::fs::read(&dest).unwrap() == ts_v1_segments(),
            "{name}: the segments in order, not the playlist"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".part"))
            .collect();
        assert!(left.is_empty(), "{name}: left behind {left:?}");
    }
}
