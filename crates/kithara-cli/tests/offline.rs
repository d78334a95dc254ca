//! The persistent cache by default: what `decode` fetched once decodes again with the server
//! gone, at once (a refused connection is not retried), and `cache ls` lists it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{kithara, media_server, stderr};

fn decode(cache: &Path, url: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    // -v: the downloader logs every retry ("retrying fetch") at warn.
    let mut args = vec![
        "-v",
        "--cache-dir",
        cache.to_str().unwrap(),
        "decode",
        url,
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    kithara(&args)
}

fn offline_decode_of(path: &str, extra: &[&str]) {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let url = server.url(path).to_string();
    let first = dir.path().join("first.f32");
    let out = decode(&cache, &url, &first, extra);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(!server.requests().is_empty());

    let ls = kithara(&["--cache-dir", cache.to_str().unwrap(), "cache", "ls"]);
    assert_eq!(ls.status.code(), Some(0), "stderr: {}", stderr(&ls));
    let listing = String::from_utf8(ls.stdout).unwrap();
    assert!(listing.contains(url.as_str()), "{listing}");
    assert!(listing.contains("100%"), "{listing}");

    drop(server); // connections to its port are refused from now on
    let second = dir.path().join("second.f32");
    let out = decode(&cache, &url, &second, extra);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}\n{listing}");
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
        "the cached decode differs"
    );
    // One refused revalidation, no retry.
    assert!(!err.contains("retrying fetch"), "{err}");
}

#[test]
fn a_file_decoded_once_decodes_again_from_the_cache_with_the_server_gone() {
    offline_decode_of("/media/chirp.mp3", &[]);
}

#[test]
fn hls_decoded_once_decodes_again_from_the_cache_with_the_server_gone() {
    // One variant: the second decode reads the segments the first one cached.
    offline_decode_of("/media/hls/master.m3u8", &["--variant", "1"]);
}

#[test]
fn no_cache_leaves_the_cache_directory_empty() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let url = server.url("/media/chirp.flac").to_string();
    let out_path = dir.path().join("out.f32");
    let out = kithara(&[
        "--no-cache",
        "--cache-dir",
        cache.to_str().unwrap(),
        "decode",
        &url,
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let ls = kithara(&["--cache-dir", cache.to_str().unwrap(), "cache", "ls"]);
    let listing = String::from_utf8(ls.stdout).unwrap();
    assert!(listing.contains("0 assets"), "{listing}");
}

#[test]
fn a_queue_played_once_plays_again_from_the_cache_with_the_server_gone() {
    let server = media_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let urls = [
        server.url("/media/chirp.flac").to_string(),
        server.url("/media/chirp.mp3").to_string(),
    ];
    let play = |wav: &Path| {
        let sink = format!("wav:{}", wav.display());
        kithara(&[
            "-v",
            "--cache-dir",
            cache.to_str().unwrap(),
            "play",
            "--sink",
            &sink,
            &urls[0],
            &urls[1],
        ])
    };
    let first = dir.path().join("first.wav");
    let out = play(&first);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    drop(server);
    let second = dir.path().join("second.wav");
    let out = play(&second);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert!(!err.contains("retrying fetch"), "{err}");
    let samples = |p: &Path| -> Vec<f32> {
        hound::WavReader::open(p)
            .unwrap()
            .samples::<f32>()
            .map(Result::unwrap)
            .collect()
    };
    let (a, b) = (samples(&first), samples(&second));
    assert!(!a.is_empty());
    assert!(a == b, "the cached queue plays otherwise");
}
