//! `kithara play`'s keys driven through a real pseudo-terminal (`rexpect`): space pauses and
//! resumes, → and ← seek, `n` and `p` change track, `q` quits; each step waits for the JSON event
//! that shows it (`--json`, the null sink at the real-time pace, a 60 s first track so no step
//! races the end of a track).

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use kithara_test_support::Route;
use rexpect::session::PtySession;
use serde_json::Value;

/// A 16-bit stereo WAV of `secs` seconds at 22.05 kHz (a quiet ramp).
fn wav_body(secs: u32) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..22_050 * secs * 2 {
        w.write_sample((i % 1500) as i16 + 1).unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

/// Reads the player's JSON lines until one satisfies `want` (each read bounded by the
/// session's timeout); returns it.
fn event(p: &mut PtySession, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    loop {
        let line = p
            .read_line()
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        if want(&v) {
            return v;
        }
    }
}

fn is(v: &Value, name: &str) -> bool {
    v["event"] == name
}

fn key(p: &mut PtySession, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

#[test]
fn the_keys_pause_seek_skip_and_quit() {
    let server = common::media_server();
    server.route(
        "/long.wav",
        Route::new(wav_body(60)).content_type("audio/wav"),
    );
    let long = server.url("/long.wav").to_string();
    let flac = server.url("/media/chirp.flac").to_string();
    let cmd = common::command(&[
        "--no-cache",
        "play",
        "--sink",
        "null",
        "--json",
        &long,
        &flac,
    ]);
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();

    let first = event(&mut p, "the first track", |v| {
        is(v, "track_started") && v["index"] == 0
    });
    let first_id = first["track"].clone();
    key(&mut p, " ");
    event(&mut p, "paused", |v| {
        is(v, "state") && v["state"] == "paused"
    });
    key(&mut p, " ");
    event(&mut p, "playing", |v| {
        is(v, "state") && v["state"] == "playing"
    });
    // → seeks 10 s forward, ← 10 s back.
    key(&mut p, "\x1b[C");
    event(&mut p, "a position past 10 s", |v| {
        is(v, "position") && v["track"] == first_id && v["position_secs"].as_f64() >= Some(10.0)
    });
    key(&mut p, "\x1b[D");
    event(&mut p, "a position back under 10 s", |v| {
        is(v, "position") && v["track"] == first_id && v["position_secs"].as_f64() < Some(10.0)
    });
    // ↑ and ↓ change the volume (not reported in the events; they must not disturb playing).
    key(&mut p, "\x1b[A\x1b[B");
    key(&mut p, "n");
    event(&mut p, "the next track", |v| {
        is(v, "track_started") && v["index"] == 1
    });
    key(&mut p, "p");
    event(&mut p, "the previous track", |v| {
        is(v, "track_started") && v["index"] == 0
    });
    key(&mut p, "q");
    p.exp_eof().unwrap();
    let status = p.process().wait().unwrap();
    // nix's `WaitStatus::Exited(pid, code)`.
    let status = format!("{status:?}");
    assert!(
        status.starts_with("Exited(") && status.ends_with(", 0)"),
        "{status}"
    );
}
