//! `kithara decode` and `kithara info` of an internet radio: a loopback station looping the bundled
//! ADTS AAC forever, with ICY titles. (An MP3 looped whole, ID3 tag and Xing frame at every join,
//! is the "files back to back" case of the decoder, not of the station.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{kithara, stderr};
use kithara_test_support::{media, LoopbackServer, Radio, Route};

fn station() -> (LoopbackServer, url::Url) {
    let server = LoopbackServer::start().unwrap();
    let aac = media::get("chirp.aac").unwrap().bytes;
    server.route(
        "/live",
        Route::radio(Radio::new(aac).metaint(8192).title_prefix("Song")).content_type("audio/aac"),
    );
    let url = server.url("/live");
    (server, url)
}

#[test]
fn decode_records_a_station_for_the_duration_asked() {
    let (_server, url) = station();
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("radio.wav");
    let out = kithara(&[
        "decode",
        url.as_str(),
        "--duration",
        "10",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let reader = hound::WavReader::open(&out_path).unwrap();
    let spec = reader.spec();
    assert_eq!(spec.sample_rate, 22_050);
    // Ten seconds of a 4 s stream looped: exactly 10 s of frames.
    assert_eq!(reader.duration(), 220_500);
}

#[test]
fn info_shows_the_station_and_its_title() {
    let (_server, url) = station();
    let out = kithara(&["info", url.as_str(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["codec"], "AAC-LC");
    assert_eq!(v["size_bytes"], serde_json::Value::Null);
    assert_eq!(v["station"]["name"], "Loopback FM");
    assert_eq!(v["station"]["genre"], "Test");
    assert_eq!(v["station"]["bitrate_kbps"], 128);
    assert_eq!(v["title"], "Song 1");

    let text = kithara(&["info", url.as_str()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("station      Loopback FM"), "{text}");
    assert!(text.contains("now playing  Song 1"), "{text}");
}

#[test]
fn decode_goes_on_across_resets_of_the_station() {
    let server = LoopbackServer::start().unwrap();
    let aac = media::get("chirp.aac").unwrap().bytes;
    server.route(
        "/live",
        Route::radio(Radio::new(aac).metaint(16_000))
            .content_type("audio/aac")
            .fault(kithara_test_support::Fault::ResetAfter {
                after: 50_000,
                times: u32::MAX,
            }),
    );
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("radio.wav");
    let url = server.url("/live");
    let out = kithara(&[
        "decode",
        url.as_str(),
        "--duration",
        "12",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let reader = hound::WavReader::open(&out_path).unwrap();
    assert_eq!(reader.duration(), 12 * 22_050);
    // Each connection brings 50 000 wire bytes; 12 s of this stream need several of them.
    let log = server.requests();
    assert!(log.len() >= 3, "{} requests", log.len());
}
