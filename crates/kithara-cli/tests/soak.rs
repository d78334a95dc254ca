//! A short `kithara soak` through the binary: every kind of stream runs, and the report's
//! invariants hold (every byte and sample verified, only the errors the faults explain, nothing
//! left over).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{kithara, stderr};
use serde_json::Value;

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn a_short_soak_verifies_everything_and_leaks_nothing() {
    let out = kithara(&[
        "soak",
        "--streams",
        "8",
        "--duration",
        "3",
        "--seed",
        "7",
        "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout: {text}",
        stderr(&out)
    );
    let report: Value = serde_json::from_str(&text).expect("one JSON object");
    assert_eq!(report["ok"], Value::Bool(true), "{text}");
    assert_eq!(count(&report["streams"]), 8);

    // Every kind ran: files in memory and in the cache, VOD HLS (TS, fMP4, AES-128 through the
    // cache), live, decodes.
    let runs = report["runs"].as_object().unwrap();
    for kind in [
        "file",
        "file (cache)",
        "hls ts",
        "hls fmp4",
        "hls aes (cache)",
        "hls live",
        "decode file",
        "decode hls",
    ] {
        assert!(
            runs.get(kind).is_some_and(|n| count(n) > 0),
            "{kind} did not run: {text}"
        );
    }
    let total: u64 = runs.values().map(count).sum();

    // Each run ended once: read everything, dropped on purpose, or with an error its fault explains.
    let errors = report["errors"].as_array().unwrap();
    for e in errors {
        assert_eq!(e["expected"], Value::Bool(true), "unexpected error: {e}");
    }
    let failed: u64 = errors.iter().map(|e| count(&e["count"])).sum();
    assert_eq!(
        count(&report["completed"]) + count(&report["cancelled"]) + failed,
        total,
        "{text}"
    );
    assert_eq!(count(&report["wrong"]), 0, "{text}");
    assert_eq!(count(&report["hung"]), 0, "{text}");
    assert!(report["failures"].as_array().unwrap().is_empty(), "{text}");
    assert!(count(&report["bytes_verified"]) > 0, "{text}");
    assert!(count(&report["pcm_frames_verified"]) > 0, "{text}");

    // Nothing left over: the downloader's peers and commands, runtime tasks, descriptors.
    let (start, end) = (&report["start"], &report["end"]);
    assert_eq!(count(&end["peers_alive"]), 0, "{text}");
    assert_eq!(count(&end["commands_in_flight"]), 0, "{text}");
    assert!(count(&end["tasks"]) <= count(&start["tasks"]), "{text}");
    if !start["fds"].is_null() {
        assert!(count(&end["fds"]) <= count(&start["fds"]), "{text}");
    }
    assert!(report["peak_rss_bytes"].is_null() || count(&report["peak_rss_bytes"]) > 0);
}
