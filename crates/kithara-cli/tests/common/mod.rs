//! Shared helpers of the binary tests: run `kithara` with no proxy from the environment, serve the
//! bundled media on loopback.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::Path,
    process::{Command, Output},
    sync::atomic::{AtomicUsize, Ordering},
};

use kithara_test_support::{process::without_proxy, LoopbackServer};

/// Runs the binary with no proxy from the environment: tests talk to loopback directly.
pub(crate) fn kithara(args: &[&str]) -> Output {
    command(args).output().expect("the kithara binary runs")
}

/// The binary with `args`, no logging and no proxy from the environment. The commands read
/// through the persistent cache by default: each run gets a cache directory of its own (under
/// cargo's temporary directory for tests), so no run finds what another one cached (a loopback
/// port can be reused) unless a test names one with `--cache-dir`.
pub(crate) fn command(args: &[&str]) -> Command {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let cache_home = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kithara-cli-cache")
        .join(format!("{}-{run}", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kithara"));
    without_proxy(&mut cmd)
        .env_remove("RUST_LOG")
        .env("XDG_CACHE_HOME", cache_home)
        .args(args);
    cmd
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure with exit code `code` and, for code 1, a single `error: …` line containing
/// every one of `needles`.
pub(crate) fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    if code == 1 {
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "stderr: {err}");
        assert!(lines[0].starts_with("error: "), "stderr: {err}");
    }
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in stderr: {err}");
    }
}

/// A loopback server with the bundled media under `/media`.
pub(crate) fn media_server() -> LoopbackServer {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    server
}

/// Little-endian f32 bytes as samples.
pub(crate) fn f32_samples(bytes: &[u8]) -> Vec<f32> {
    assert_eq!(bytes.len() % 4, 0, "not a whole number of f32");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The MP3 fixture with its (empty) ID3v2 tag replaced by one with a title and an artist.
pub(crate) fn tagged_mp3(title: &str) -> Vec<u8> {
    let mp3 = kithara_test_support::media::get("chirp.mp3").unwrap().bytes;
    let size = mp3[6..10]
        .iter()
        .fold(0usize, |a, &b| (a << 7) | usize::from(b));
    let mut body = Vec::new();
    for (id, text) in [(b"TIT2", title), (b"TPE1", "kithara")] {
        body.extend_from_slice(id);
        body.extend(u32::try_from(text.len() + 1).unwrap().to_be_bytes());
        body.extend([0, 0, 0]);
        body.extend(text.as_bytes());
    }
    let n = body.len();
    let mut out = b"ID3\x03\x00\x00\x00\x00".to_vec();
    out.extend([(n >> 7) as u8 & 0x7F, n as u8 & 0x7F]);
    out.extend(body);
    out.extend_from_slice(&mp3[10 + size..]);
    out
}
