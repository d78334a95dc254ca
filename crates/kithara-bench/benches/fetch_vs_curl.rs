//! `kithara fetch` against `curl`, writing the same file from the same loopback route, runs
//! interleaved so both see the same machine state.
//!
//! ```sh
//! cargo bench -p kithara-bench --bench fetch_vs_curl                    # 256 MiB, 5 rounds
//! KITHARA_BENCH_MIB=64 KITHARA_BENCH_ROUNDS=3 cargo bench -p kithara-bench --bench fetch_vs_curl
//! ```
//!
//! Each round runs `kithara fetch URL -o FILE` (as `kithara-bench kithara fetch …`, the release
//! binary built with the bench, which links the kithara command line) and
//! `curl -s -o FILE URL`, in alternating order, each on a fresh file name in a temporary
//! directory, and verifies the size. It prints the medians and their ratio (curl time / kithara
//! time: above 1.0 kithara is faster). Without curl on the machine the comparison is skipped
//! with a note.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::print_stdout)]

use std::{
    process::Command,
    time::{Duration, Instant},
};

use kithara_test_support::{
    bench::{env_usize, median},
    payload,
    process::without_proxy,
    LoopbackServer, Route,
};

fn timed(mut cmd: Command) -> Duration {
    without_proxy(&mut cmd);
    let started = Instant::now();
    let out = cmd.output().expect("the command runs");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    // `cargo bench` passes harness flags such as `--bench`; a plain `--test` run does one small round.
    let quick = std::env::args().any(|a| a == "--test");
    let mib = if quick {
        4
    } else {
        env_usize("KITHARA_BENCH_MIB", 256)
    };
    let rounds = if quick {
        1
    } else {
        env_usize("KITHARA_BENCH_ROUNDS", 5)
    };
    let curl_ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let server = LoopbackServer::start().expect("server");
    let len = mib << 20;
    server.route("/big.bin", Route::new(payload(len, 99)));
    let url = server.url("/big.bin");
    let dir = tempfile::tempdir().unwrap();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let run_ours = |out: &std::path::Path| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_kithara-bench"));
            c.args(["kithara", "-q", "--no-cache", "fetch", url.as_str(), "-o"])
                .arg(out);
            timed(c)
        };
        let run_curl = |out: &std::path::Path| {
            let mut c = Command::new("curl");
            c.args(["-s", "--noproxy", "*", "-o"])
                .arg(out)
                .arg(url.as_str());
            timed(c)
        };
        let a = dir.path().join(format!("k{round}.bin"));
        let b = dir.path().join(format!("c{round}.bin"));
        // Alternate who goes first, so neither always meets a warmer page cache.
        if round % 2 == 0 || !curl_ok {
            ours.push(run_ours(&a));
            if curl_ok {
                theirs.push(run_curl(&b));
            }
        } else {
            theirs.push(run_curl(&b));
            ours.push(run_ours(&a));
        }
        assert_eq!(std::fs::metadata(&a).unwrap().len(), len as u64);
        let _ = std::fs::remove_file(&a);
        let _ = std::fs::remove_file(&b);
    }
    let k = median(&ours).unwrap_or_default();
    println!("fetch_vs_curl: {mib} MiB over loopback, {rounds} interleaved rounds");
    println!("  kithara fetch  median {k:?}  runs {ours:?}");
    if curl_ok {
        let c = median(&theirs).unwrap_or_default();
        println!("  curl -o        median {c:?}  runs {theirs:?}");
        println!(
            "  ratio (curl time / kithara time): {:.2}  goal >= 0.90",
            c.as_secs_f64() / k.as_secs_f64()
        );
    } else {
        println!("  curl is not installed: comparison skipped");
    }
}
