//! Priorities on a busy downloader: the segment a reader waits for is not kept queued behind
//! other streams' requests.

use std::time::Duration;

use kithara_stream::dl::{Downloader, DownloaderConfig, DownloaderStats};
use kithara_test_support::{Fault, LoopbackServer, Route, ThrottleHandle};

use crate::common::*;

/// A playlist route that sends its headers, then nothing until the client leaves: an open of it
/// holds a slot for good.
fn never_sends(server: &LoopbackServer, name: &str) -> url::Url {
    server.route(
        name,
        Route::new("#EXTM3U\n")
            .content_type("application/vnd.apple.mpegurl")
            .fault(Fault::Stall {
                after: 0,
                stall: Duration::MAX,
                times: u32::MAX,
            }),
    );
    server.url(name)
}

/// Polls the downloader's figures until `ok` holds (within the patience).
async fn stats_until(dl: &Downloader, what: &str, ok: impl Fn(&DownloaderStats) -> bool) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !ok(&dl.stats()) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what}: {:?}", dl.stats());
}

/// The next segment is fetched at normal priority while the reader has audio before it; once the
/// reader has read everything before it and waits, that fetch (still queued) is raised to urgent
/// and takes the next free slot ahead of urgent requests queued after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_segment_a_reader_waits_for_is_raised_ahead_of_later_requests() {
    let server = server();
    let uris = playlist_uris("hls/ts/v1.m3u8");
    let (seg0, seg1) = (
        file(&format!("hls/ts/{}", uris[0])),
        file(&format!("hls/ts/{}", uris[1])),
    );
    let gate = ThrottleHandle::new(4 * 1024);
    server.route(
        &format!("/media/hls/ts/{}", uris[0]),
        Route::new(seg0).throttle_handle(gate.clone()),
    );
    let dl = Downloader::new(
        DownloaderConfig::builder()
            .system_proxy(false)
            .max_in_flight(2)
            .inactivity_timeout(PATIENCE * 20)
            .build(),
    )
    .unwrap();
    let hold = |name: &'static str| {
        let (dl, url) = (dl.clone(), never_sends(&server, name));
        tokio::spawn(async move { open(&dl, url, |_| {}).await })
    };
    // One slot is held for good.
    let b1 = hold("/b1.m3u8");
    assert!(
        server
            .wait_until_async(PATIENCE, |log, _| log.iter().any(|r| r.path == "/b1.m3u8"))
            .await
    );
    // The stream opens; its first segment comes slowly on the other slot.
    let h = open(&dl, server.url("/media/hls/ts/v1.m3u8"), |_| {})
        .await
        .unwrap();
    let first = format!("/media/hls/ts/{}", uris[0]);
    assert!(
        server
            .wait_until_async(PATIENCE, |log, _| log.iter().any(|r| r.path == first))
            .await
    );
    let b2 = hold("/b2.m3u8");
    stats_until(&dl, "B2 waits", |s| s.waiting_urgent == 1).await;
    // The first segment ends: its slot goes to B2, and the next segment queues (normal: the
    // reader has a segment of audio before it).
    gate.set(0);
    stats_until(&dl, "the next segment waits", |s| {
        s.waiting_urgent == 0 && s.waiting_normal == 1
    })
    .await;
    let b3 = hold("/b3.m3u8");
    stats_until(&dl, "B3 waits", |s| {
        s.waiting_urgent == 1 && s.waiting_normal == 1
    })
    .await;
    // The reader reads the first segment and on into the second: it waits for it.
    let want = seg0.len() + 188;
    let reading = tokio::spawn(async move {
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut h = h;
            let mut got = vec![0u8; want];
            let r = h.read_exact(&mut got).map(|()| got);
            (h, r)
        })
        .await
        .unwrap()
    });
    stats_until(&dl, "the next segment raised", |s| {
        s.waiting_urgent == 2 && s.waiting_normal == 0
    })
    .await;
    // A slot frees: the segment, queued before B3, gets it.
    b1.abort();
    let (h, got) = reading.await.unwrap();
    let got = got.unwrap();
    assert!(got[..seg0.len()] == seg0[..], "the first segment");
    assert!(
        got[seg0.len()..] == seg1[..188],
        "the second segment's start"
    );
    let log = server.requests();
    let seg1_sent = log.iter().position(|r| r.path.ends_with(&uris[1]));
    let seg1_sent = seg1_sent.unwrap_or_else(|| panic!("the segment is requested: {log:?}"));
    let b3_sent = log.iter().position(|r| r.path == "/b3.m3u8");
    assert!(b3_sent.is_none_or(|b| b > seg1_sent), "{log:?}");
    b2.abort();
    b3.abort();
    drop(h);
    dl.cancel_token().cancel();
}
