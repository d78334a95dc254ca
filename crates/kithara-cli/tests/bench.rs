//! `kithara bench --quick --json --out DIR`: every implemented case reports real, positive
//! measurements and the wake-latency plot is drawn.

#![cfg(feature = "bench")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{command, stderr};

/// The rows of the implemented cases, by id.
const ROWS: &[&str] = &[
    "throughput.memory_vs_raw",
    "throughput.tempfile_vs_raw",
    "throughput.memory_vs_stream_download",
    "throughput.tempfile_vs_stream_download",
    "throughput.fetch_vs_curl",
    "decode.mp3",
    "decode.flac",
    "seek.vs_stream_download",
    "seek.vs_rtt",
    "wake.memory.p50",
    "wake.memory.p99",
    "wake.memory.max",
    "wake.tempfile.p50",
    "wake.tempfile.p99",
    "wake.tempfile.max",
    "idle.cpu",
    "memory.fetch_peak_rss",
    "scale.1_streams_vs_raw",
    "scale.8_streams_vs_raw",
    "scale.64_streams_vs_raw",
    "scale.8_streams_vs_1",
    "scale.64_streams_vs_1",
    "scale.64_streams_pool_64_vs_raw",
];

fn positive(doc: &serde_json::Value, what: &str) -> f64 {
    let v = doc
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {doc}"));
    assert!(v.is_finite() && v > 0.0, "{what} = {v}");
    v
}

#[test]
fn quick_json_run_reports_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("plots");
    let out = command(&[
        "bench",
        "--quick",
        "--json",
        "--out",
        out_dir.to_str().unwrap(),
    ])
    .output()
    .expect("the kithara binary runs");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["quick"], true);
    let rounds = doc["rounds"].as_u64().unwrap();
    assert!(rounds >= 2);
    let cases = doc["cases"].as_array().unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ROWS, "the rows of the implemented cases, in order");
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let k = &case["kithara"];
        assert_eq!(k["runs"].as_u64(), Some(rounds), "{id}");
        let (min, med, max) = (
            k["min"].as_f64().unwrap(),
            k["median"].as_f64().unwrap(),
            k["max"].as_f64().unwrap(),
        );
        assert!(min <= med && med <= max, "{id}: {k}");
        if id == "idle.cpu" {
            // An idle process may truly use no CPU at all in a short window.
            assert!(med >= 0.0 && med.is_finite(), "{id}: {k}");
        } else {
            positive(&k["median"], &format!("{id} kithara median"));
        }
        if !case["peer"].is_null() {
            positive(&case["peer"]["median"], &format!("{id} peer median"));
            positive(&case["ratio"], &format!("{id} ratio"));
        }
        assert!(case["goal"].is_string(), "{id}");
    }
    let svg = std::fs::read_to_string(out_dir.join("wake_latency.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("memory") && svg.contains("tempfile"));
}
