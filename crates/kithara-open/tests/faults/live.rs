//! Live HLS: a window over the TS segments that grows after each reload the server answered
//! (growing, not sliding: a segment that left a sliding window before the peer fetched it would
//! be skipped, and what is heard would depend on timing); the faults hit the reloads.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use kithara_test_support::{Fault, RequestRecord, Route};

use crate::{
    cases::{status, Expect},
    runner::{media_server, run_path, Observed, HANG},
};
use kithara_stream::ErrorClass;

/// The live playlist's path (its segment URIs are relative: `ts/v0-NN.ts`).
pub(crate) const LIVE: &str = "/media/hls/live.m3u8";

/// The window `first..=last` of the v0 TS segments, `ENDLIST` when `end`.
fn window(first: usize, last: usize, end: bool) -> Route {
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for i in first..=last {
        p.push_str(&format!("#EXTINF:1.0,\nts/v0-{i:02}.ts\n"));
    }
    if end {
        p.push_str("#EXT-X-ENDLIST\n");
    }
    Route::new(p).content_type("application/vnd.apple.mpegurl")
}

/// One live row: the playlists served one after the other (the next once a reload was answered
/// with 200), and the outcome.
pub(crate) struct LiveCase {
    pub(crate) name: &'static str,
    pub(crate) steps: fn() -> Vec<Route>,
    pub(crate) expect: Expect,
    pub(crate) wire: fn(&[RequestRecord]) -> bool,
}

fn reloads(reqs: &[RequestRecord]) -> usize {
    reqs.iter().filter(|r| r.path == LIVE).count()
}

pub(crate) fn cases() -> Vec<LiveCase> {
    vec![
        LiveCase {
            name: "live reload: 503 once",
            steps: || {
                let fault = Fault::FailFirst {
                    count: 1,
                    status: 503,
                    retry_after: None,
                };
                vec![
                    window(2, 4, false),
                    window(2, 6, false).fault(fault),
                    window(2, 8, true),
                ]
            },
            expect: Expect::Clean,
            wire: |reqs| reqs.iter().any(|r| r.path == LIVE && r.status == 503),
        },
        LiveCase {
            name: "live reload: 503 for good",
            steps: || vec![window(2, 4, false), Route::new("busy").status(503)],
            expect: Expect::Fails(ErrorClass::Network, |e| status(e, 503)),
            wire: |reqs| reloads(reqs) >= 2,
        },
        LiveCase {
            name: "live reload: 404",
            steps: || vec![window(2, 4, false), Route::new("gone").status(404)],
            expect: Expect::Fails(ErrorClass::NotFound, |e| status(e, 404)),
            wire: |reqs| reloads(reqs) >= 2,
        },
        LiveCase {
            name: "live reload: media sequence goes backwards",
            steps: || {
                vec![
                    window(2, 4, false),
                    window(2, 6, false),
                    window(1, 5, false),
                    window(2, 8, true),
                ]
            },
            expect: Expect::Clean,
            wire: |reqs| reloads(reqs) >= 4,
        },
    ]
}

/// Serves `steps` in turn at [`LIVE`] while the stream plays, and runs the stream.
pub(crate) async fn run_live(steps: Vec<Route>, label: &str) -> Observed {
    let server = Arc::new(media_server());
    let mut steps = steps.into_iter();
    if let Some(first) = steps.next() {
        server.route(LIVE, first);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (server, stop) = (server.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            for next in steps {
                // Advance once a reload of the current playlist was answered with 200.
                let answered = |reqs: &[RequestRecord]| {
                    reqs.iter()
                        .filter(|r| r.path == LIVE && r.status == 200 && r.end.is_some())
                        .count()
                };
                let seen = answered(&server.requests());
                let reloaded = server.wait_until(HANG, |reqs, _| {
                    stop.load(Ordering::Acquire) || answered(reqs) > seen
                });
                if !reloaded || stop.load(Ordering::Acquire) {
                    return;
                }
                server.route(LIVE, next);
            }
        })
    };
    let seen = run_path(&server, LIVE, label).await;
    // Wake the driver if it still waits (any change of the log does) and let it end.
    stop.store(true, Ordering::Release);
    server.clear_log();
    driver.await.unwrap();
    seen
}

/// The clean live run's steps: the window grows by two segments per reload, then ends.
pub(crate) fn clean() -> Vec<Route> {
    vec![window(2, 4, false), window(2, 6, false), window(2, 8, true)]
}
