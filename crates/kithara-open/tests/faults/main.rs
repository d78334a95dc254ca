//! The fault matrix across the stack: one table of faults ([`cases`]), one runner ([`runner`]),
//! over `Stream<File>`, `Stream<Hls>` (TS, fMP4, AES-128, `EXT-X-BYTERANGE`) and the decoder on
//! top, all through `kithara_open::open_decoder` against the loopback server.
//!
//! Each case asserts its outcome (PCM equal to the clean run's, or the typed error), that it
//! ended (no hang), what the server saw, and that the downloader wound down with every
//! command's `on_complete` run exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cases;
mod hls;
mod live;
mod runner;

use std::sync::Arc;

use cases::{cases, Expect};
use runner::{media_server, run, Kind};

/// Cases of one kind run at the same time (each has its own server and downloader): most of a
/// case's time is a timer (a stall, a drip, a backoff), not work.
const CONCURRENT: usize = 4;

/// Runs every row of the table that applies to `kind`.
async fn matrix(kind: Kind) {
    let clean = {
        let server = media_server();
        let seen = run(&server, kind, &format!("{kind:?} clean")).await;
        let pcm = seen.outcome.unwrap();
        assert!(pcm.len() > 10_000, "{kind:?}: {} samples", pcm.len());
        Arc::new(pcm)
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT));
    let mut runs = tokio::task::JoinSet::new();
    for case in cases().into_iter().filter(|c| c.kinds.contains(&kind)) {
        let (clean, slots) = (clean.clone(), slots.clone());
        runs.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            run_case(case, kind, &clean).await;
        });
    }
    while let Some(done) = runs.join_next().await {
        // A case's panic (its assertion) fails the test with the case's message.
        if let Err(e) = done {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// One row on one kind: set the fault up, run the stream, check what happened.
async fn run_case(case: cases::Case, kind: Kind, clean: &[f32]) {
    let observe = std::env::var_os("FAULTS_OBSERVE").is_some();
    let label = format!("{kind:?} / {}", case.name);
    let server = Arc::new(media_server());
    (case.setup)(&server, kind);
    let during = case.during.map(|f| {
        let server = server.clone();
        tokio::task::spawn_blocking(move || f(&server, kind))
    });
    let seen = run(&server, kind, &label).await;
    if let Some(d) = during {
        d.await.unwrap();
    }
    let wire_ok = (case.wire)(kind, &seen.requests);
    let expect = (case.expect)(kind);
    check(
        &label,
        expect,
        &seen.outcome,
        clean,
        wire_ok,
        seen.took,
        observe,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file() {
    matrix(Kind::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ts() {
    matrix(Kind::Ts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_fmp4() {
    matrix(Kind::Fmp4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_aes() {
    matrix(Kind::Aes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_byterange() {
    matrix(Kind::ByteRange).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_live() {
    let observe = std::env::var_os("FAULTS_OBSERVE").is_some();
    let clean = live::run_live(live::clean(), "Live clean")
        .await
        .outcome
        .unwrap();
    assert!(clean.len() > 10_000, "live: {} samples", clean.len());
    for case in live::cases() {
        let label = format!("Live / {}", case.name);
        let seen = live::run_live((case.steps)(), &label).await;
        let wire_ok = (case.wire)(&seen.requests);
        check(
            &label,
            case.expect,
            &seen.outcome,
            &clean,
            wire_ok,
            seen.took,
            observe,
        );
    }
}

/// Asserts one run: the wire shows the fault, and the outcome is the one expected (or, with
/// `FAULTS_OBSERVE` set, prints what happened instead).
fn check(
    label: &str,
    expect: Expect,
    outcome: &runner::Outcome,
    clean: &[f32],
    wire_ok: bool,
    took: std::time::Duration,
    observe: bool,
) {
    let got = match outcome {
        Ok(pcm) if pcm == clean => "clean".to_string(),
        Ok(pcm) => format!("PCM DIFFERS ({} samples, clean {})", pcm.len(), clean.len()),
        Err(f) => format!("{f:?}"),
    };
    if observe {
        eprintln!("{label}: {got} in {took:?}; wire {wire_ok}");
        return;
    }
    assert!(wire_ok, "{label}: the wire does not show the fault");
    match (expect, outcome) {
        (Expect::Clean, Ok(pcm)) => assert!(pcm == clean, "{label}: {got}"),
        (Expect::Fails(class, typed), Err(f)) => {
            assert_eq!(f.class, class, "{label}: {got}");
            assert!(
                typed(&*f.error),
                "{label}: not the typed error expected: {got}"
            );
        }
        (want, _) => panic!("{label}: expected {want:?}, got {got}"),
    }
}

/// A ladder: the played variant's segment (the first variant played is the highest, v2) is
/// laid out once its headers arrive, then every attempt resets before the body. The same
/// segment from another variant cannot take the place of a piece already laid out, so the
/// reader inside it gets the typed error at once (it used to wait out its timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ladder_placed_segment_fails_for_good() {
    use kithara_test_support::Fault;
    let server = media_server();
    let target = "/media/hls/ts/v2-02.ts";
    let fault = Fault::ResetAfter {
        after: 0,
        times: u32::MAX,
    };
    server.route(target, runner::original(target).fault(fault));
    let label = "ladder / placed segment resets for good";
    let seen = runner::run_path(&server, "/media/hls/master.m3u8", label).await;
    let hit = cases::hits(target, &seen.requests) >= runner::ATTEMPTS as usize;
    let expect = Expect::Fails(kithara_stream::ErrorClass::Network, cases::exhausted);
    let observe = std::env::var_os("FAULTS_OBSERVE").is_some();
    check(label, expect, &seen.outcome, &[], hit, seen.took, observe);
}
