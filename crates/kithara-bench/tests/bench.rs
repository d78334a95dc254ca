//! `kithara-bench --quick --json --out DIR`: every implemented case reports real, positive
//! measurements and the wake-latency plot is drawn; `--cases hls-start,abr` prints the HLS rows
//! and draws one ABR plot per trace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{command, stderr};

/// The cases of the JSON run: all but the HLS ones, which have their own test.
const CASES: &str = "throughput,decode,seek,wake,idle,memory,scale";

/// The rows of those cases, by id.
const ROWS: &[&str] = &[
    "throughput.memory_vs_raw",
    "throughput.ring_vs_raw",
    "throughput.tempfile_vs_raw",
    "throughput.memory_vs_stream_download",
    "throughput.tempfile_vs_stream_download",
    "throughput.fetch_vs_curl",
    "decode.mp3",
    "decode.flac",
    "seek.vs_stream_download",
    "seek.vs_raw_get",
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
        "--quick",
        "--json",
        "--cases",
        CASES,
        "--out",
        out_dir.to_str().unwrap(),
    ])
    .output()
    .expect("the kithara-bench binary runs");
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

/// The rows of `--cases abr,hls-start`, in order.
fn hls_rows() -> Vec<String> {
    let mut rows = Vec::new();
    for trace in ["steady", "step_down", "oscillating"] {
        for row in [
            "rebuffer",
            "longest_stall",
            "switches",
            "startup",
            "bitrate",
        ] {
            rows.push(format!("abr.{trace}.{row}"));
        }
    }
    rows.extend(["hls-start.ts", "hls-start.fmp4"].map(String::from));
    rows
}

/// The first number of a table cell such as `3.12 RTT ±1%`.
fn number(cell: &str) -> f64 {
    cell.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {cell:?}"))
}

#[test]
fn quick_hls_cases_print_their_rows_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("plots");
    let out = command(&[
        "--quick",
        "--cases",
        "abr,hls-start",
        "--out",
        out_dir.to_str().unwrap(),
    ])
    .output()
    .expect("the kithara-bench binary runs");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    // The table: a header, then one line per row (two spaces between cells), then the notes.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("kithara bench --quick"), "{text}");
    let table: Vec<Vec<&str>> = lines[2..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    let ids: Vec<&str> = table.iter().map(|r| r[0]).collect();
    assert_eq!(ids, hls_rows(), "{text}");
    for row in &table {
        let (id, kithara) = (row[0], number(row[1]));
        assert!(kithara.is_finite() && kithara >= 0.0, "{id}: {row:?}");
        if id.starts_with("hls-start.") {
            // Master, media playlist and a segment: at least three round trips.
            assert!(row[1].ends_with('%') && kithara >= 3.0, "{id}: {row:?}");
            assert!(row.iter().any(|c| c.starts_with('≤')), "{id}: {row:?}");
        } else {
            assert!(row[2].starts_with("throughput rule: "), "{id}: {row:?}");
            let peer = number(row[2].trim_start_matches("throughput rule: "));
            assert!(peer.is_finite() && peer >= 0.0, "{id}: {row:?}");
            if id.ends_with(".bitrate") {
                // The average of 20/28/36 kbit/s variants.
                for v in [kithara, peer] {
                    assert!((20.0..=36.0).contains(&v), "{id}: {row:?}");
                }
            }
        }
    }
    assert!(text.contains("requests before it"), "{text}");
    assert!(text.contains("K = 30"), "{text}");
    for trace in ["steady", "step_down", "oscillating"] {
        let svg = std::fs::read_to_string(out_dir.join(format!("abr_{trace}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "abr_{trace}.svg");
        for label in [
            "available bandwidth",
            "kithara: buffer",
            "throughput: bitrate chosen",
        ] {
            assert!(svg.contains(label), "{label} in abr_{trace}.svg");
        }
    }
}
