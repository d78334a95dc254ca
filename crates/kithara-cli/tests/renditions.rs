//! HLS audio renditions: `info` lists them, `decode --audio-lang` picks one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{kithara, media_server, stderr};
use kithara_test_support::{LoopbackServer, Route};

/// A master playlist whose one variant plays the audio group `aud`: English (the default) is the
/// bundled variant 0, German the bundled variant 2.
const MASTER: &str = "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"/media/hls/ts/v0.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Deutsch\",LANGUAGE=\"de\",DEFAULT=NO,AUTOSELECT=YES,URI=\"/media/hls/ts/v2.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\",AUDIO=\"aud\"
/media/hls/ts/v0.m3u8
";

fn server() -> LoopbackServer {
    let server = media_server();
    server.route(
        "/alt/master.m3u8",
        Route::new(MASTER).content_type("application/vnd.apple.mpegurl"),
    );
    server
}

#[test]
fn info_lists_the_audio_renditions() {
    let server = server();
    let url = server.url("/alt/master.m3u8").to_string();
    let out = kithara(&["--no-cache", "info", "--json", &url]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &report["renditions"];
    assert_eq!(r.as_array().map(Vec::len), Some(2), "{report}");
    assert_eq!(r[0]["name"], "English");
    assert_eq!(r[0]["language"], "en");
    assert_eq!(r[0]["default"], true);
    assert_eq!(r[1]["name"], "Deutsch");
    assert_eq!(r[1]["language"], "de");
    assert_eq!(r[1]["group"], "aud");

    let out = kithara(&["--no-cache", "info", &url]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Deutsch"), "{text}");
    assert!(
        text.contains("English") && text.contains("default"),
        "{text}"
    );
}

#[test]
fn decode_plays_the_rendition_of_the_language_asked_for() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let german = dir.path().join("de.f32");
    let url = server.url("/alt/master.m3u8").to_string();
    let out = kithara(&[
        "--no-cache",
        "decode",
        &url,
        "--audio-lang",
        "de",
        "-o",
        german.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let segments = |prefix: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    };
    assert!(segments("/media/hls/ts/v2-") > 0, "the German segments");
    assert_eq!(segments("/media/hls/ts/v0-"), 0, "no English segment");

    let direct = dir.path().join("v2.f32");
    let v2 = server.url("/media/hls/ts/v2.m3u8").to_string();
    let out = kithara(&["--no-cache", "decode", &v2, "-o", direct.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(std::fs::read(&german).unwrap() == std::fs::read(&direct).unwrap());
}

#[test]
fn play_plays_the_rendition_of_the_language_asked_for() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("wav:{}", dir.path().join("de.wav").display());
    let url = server.url("/alt/master.m3u8").to_string();
    let out = kithara(&[
        "--no-cache",
        "play",
        "--sink",
        &sink,
        "--audio-lang",
        "de",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let segments = |prefix: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    };
    assert!(segments("/media/hls/ts/v2-") > 0, "the German segments");
    assert_eq!(segments("/media/hls/ts/v0-"), 0, "no English segment");
}
