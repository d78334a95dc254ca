//! Many streams through one downloader; cancellation by dropping a stream.

use std::io::Read;

use kithara_file::StorageKind;
use kithara_stream::{dl::DownloaderConfig, FetchPriority, Stream};
use kithara_test_support::{payload, ResponseEnd, Route, ThrottleHandle};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_streams_share_a_pool_of_eight() {
    let server = server();
    let bodies: Vec<_> = (0..64)
        .map(|i| payload(MIB + i * 4099, 100 + i as u64))
        .collect();
    for (i, b) in bodies.iter().enumerate() {
        server.route(
            &format!("/t{i}.bin"),
            Route::new(b.clone()).throttle(8 * MIB as u64),
        );
    }
    let dl = downloader_with(|mut c: DownloaderConfig| {
        c.max_in_flight = 8;
        c
    });
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (dl, url) = (dl.clone(), server.url(&format!("/t{i}.bin")));
        tasks.push(tokio::spawn(async move {
            let s = open(&dl, url, |c| c.options.storage = Some(StorageKind::Memory))
                .await
                .unwrap();
            let (s, got) = read_all(s).await;
            (s, got.unwrap())
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (s, got) = t.await.unwrap();
        assert!(got == bodies[i], "stream {i} differs");
        close(s).await;
    }
    let stats = server.stats();
    // At most 8 requests are ever being served at once. (A socket whose response just ended may
    // linger for a moment while the client's pool takes it back, so raw socket counts are reported,
    // not asserted.)
    assert!(stats.max_responses_in_flight <= 8, "{stats:?}");
    assert!(
        stats.max_responses_in_flight >= 2,
        "streams did run concurrently: {stats:?}"
    );
    // The streams share pooled connections instead of opening one each.
    assert!(stats.connections_accepted < 64, "{stats:?}");
    eprintln!("pool stats: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_cancels_its_fetch() {
    let server = server();
    let body = payload(16 * MIB, 31);
    server.route("/slow.bin", Route::new(body.clone()).throttle(MIB as u64));
    let dl = downloader();
    let s = open(&dl, server.url("/slow.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let s = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut first = vec![0u8; 10_000];
        s.read_exact(&mut first).unwrap();
        assert!(first[..] == body[..10_000]);
        s
    })
    .await
    .unwrap();
    let peer = s.source().peer().unwrap().clone();
    assert_eq!(peer.active_commands(), 1);
    let peer = close(s).await;
    assert!(peer.is_cancelled());
    let closed = server
        .wait_until_async(PATIENCE, |reqs, _| {
            reqs.iter().all(|r| r.end == Some(ResponseEnd::ClientGone))
        })
        .await;
    assert!(
        closed,
        "server saw the client go away: {:?}",
        server.requests()
    );
    let ok = server
        .wait_until_async(PATIENCE, |_, stats| stats.connections_open == 0)
        .await;
    assert!(ok, "connection closed: {:?}", server.stats());
    assert!(server.stats().bytes_sent < 16 * MIB as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_root_token_wakes_a_blocked_reader() {
    let server = server();
    let body = payload(8 * MIB, 32);
    server.route("/c.bin", Route::new(body).throttle(256 * 1024));
    let dl = downloader();
    let s = open(&dl, server.url("/c.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut all = Vec::new();
        let err = s.read_to_end(&mut all).unwrap_err();
        (s, err)
    });
    // Cancel once the reader has something in hand (bytes are flowing), from the application side.
    let ok = server
        .wait_until_async(PATIENCE, |_, stats| stats.bytes_sent > 64 * 1024)
        .await;
    assert!(ok);
    dl.cancel_token().cancel();
    let (s, err) = reader.await.unwrap();
    assert!(kithara_error(&err).is_cancelled(), "{err}");
    close(s).await;
}

/// Waits (within the patience) until `peer` has yielded `n` commands.
async fn issued(peer: &kithara_stream::dl::PeerHandle, n: u64) {
    tokio::time::timeout(PATIENCE, async {
        while peer.commands_issued() < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the peer issues its request");
}

/// Two streams wait for the one slot of the pool: the background one (a queue's next track) asked
/// first, yet the foreground one (the track heard) is served first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_stream_waits_for_the_foreground_one() {
    let server = server();
    let throttle = ThrottleHandle::new(64 * 1024);
    server.route(
        "/hold.bin",
        Route::new(payload(MIB, 1)).throttle_handle(throttle.clone()),
    );
    server.route("/next.bin", Route::new(payload(4 * MIB, 2)));
    server.route("/heard.bin", Route::new(payload(4 * MIB, 3)));
    let dl = downloader_with(|mut c: DownloaderConfig| {
        c.max_in_flight = 1;
        c
    });
    let background = FetchPriority::background();
    let window = |c: &mut kithara_file::FileConfig| {
        c.options.storage = Some(StorageKind::Memory);
        c.buffer_ahead = Some(64 * 1024);
    };
    let next = open(&dl, server.url("/next.bin"), |c| {
        window(c);
        c.options.priority = background.clone();
    })
    .await
    .unwrap();
    let heard = open(&dl, server.url("/heard.bin"), window).await.unwrap();
    let (next_peer, heard_peer) = (
        next.source().peer().unwrap().clone(),
        heard.source().peer().unwrap().clone(),
    );
    next_peer.settled().await;
    heard_peer.settled().await;
    // A slow download holds the only slot while both readers jump far ahead.
    let hold = open(&dl, server.url("/hold.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory);
    })
    .await
    .unwrap();
    let far = 2 * MIB as u64;
    let next_read = tokio::spawn(read_at(next, far, 1000));
    issued(&next_peer, 2).await;
    let heard_read = tokio::spawn(read_at(heard, far, 1000));
    issued(&heard_peer, 2).await;
    throttle.set(u64::MAX / 2);
    let (next, got) = next_read.await.unwrap();
    assert_eq!(
        got.unwrap()[..],
        payload(4 * MIB, 2)[2 * MIB..2 * MIB + 1000]
    );
    let (heard, got) = heard_read.await.unwrap();
    assert_eq!(
        got.unwrap()[..],
        payload(4 * MIB, 3)[2 * MIB..2 * MIB + 1000]
    );
    let order: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| {
            r.range
                .as_deref()
                .is_some_and(|v| v.starts_with(&format!("bytes={far}-")))
        })
        .map(|r| r.path)
        .collect();
    assert_eq!(
        order,
        ["/heard.bin", "/next.bin"],
        "the foreground stream first"
    );
    close(next).await;
    close(heard).await;
    close(hold).await;
}

/// A route at `name` that sends its headers, then no body byte until the client leaves: a
/// stream on it holds a slot for good.
fn never_sends(server: &kithara_test_support::LoopbackServer, name: &str) -> url::Url {
    server.route(
        name,
        Route::new(payload(MIB, 9)).fault(kithara_test_support::Fault::Stall {
            after: 0,
            stall: std::time::Duration::MAX,
            times: u32::MAX,
        }),
    );
    server.url(name)
}

/// Polls the downloader's figures until `ok` holds (within the patience).
async fn stats_until(
    dl: &kithara_stream::dl::Downloader,
    what: &str,
    ok: impl Fn(&kithara_stream::dl::DownloaderStats) -> bool,
) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !ok(&dl.stats()) {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what}: {:?}", dl.stats());
}

/// Reopening a partly cached file: its first request (the first missing bytes, ahead of the
/// reader) is urgent while `Stream::new` waits for its answer, so a slot freed goes to it before
/// urgent requests queued after it. (Before, it was a read-ahead: on a busy downloader the open
/// waited for good.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_a_partly_cached_file_is_not_queued_behind_later_requests() {
    use kithara_test_support::Fault;
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::cache::store(tmp.path(), |c| c);
    let server = server();
    let never = |name: &str| never_sends(&server, name);
    let body = payload(MIB, 5);
    let half = MIB / 2;
    // The first response stops after half the body (until the client leaves).
    server.route(
        "/a.bin",
        Route::new(body.clone()).etag("\"a\"").fault(Fault::Stall {
            after: half as u64,
            stall: std::time::Duration::MAX,
            times: 1,
        }),
    );
    let dl = downloader_with(|mut c: DownloaderConfig| {
        c.max_in_flight = 1;
        c.inactivity_timeout = PATIENCE * 20;
        c
    });
    // The first half is cached.
    let a = Stream::<kithara_file::File>::new(cached_config(server.url("/a.bin"), &dl, &store))
        .await
        .unwrap();
    let (a, got) = read_at(a, 0, half).await;
    assert_eq!(got.unwrap()[..], body[..half]);
    close(a).await;
    assert!(store.wait_closed(PATIENCE));
    // The only slot is held; the reopen queues, then B2 queues after it.
    let b1 = open(&dl, never("/b1.bin"), |c| {
        c.options.storage = Some(StorageKind::Memory)
    })
    .await
    .unwrap();
    let reopen = tokio::spawn({
        let config = cached_config(server.url("/a.bin"), &dl, &store);
        async move { Stream::<kithara_file::File>::new(config).await }
    });
    stats_until(&dl, "the reopen waits, urgent", |s| s.waiting_urgent == 1).await;
    let b2 = tokio::spawn({
        let (dl, url) = (dl.clone(), never("/b2.bin"));
        async move { open(&dl, url, |c| c.options.storage = Some(StorageKind::Memory)).await }
    });
    stats_until(&dl, "B2 waits too", |s| s.waiting_urgent == 2).await;
    drop(b1);
    let a = reopen.await.unwrap().unwrap();
    let (a, got) = read_at(a, half as u64, 1000).await;
    assert_eq!(got.unwrap()[..], body[half..half + 1000]);
    let log = server.requests();
    let asked = format!("bytes={half}-");
    let reopened = log
        .iter()
        .position(|r| r.path == "/a.bin" && r.range.as_deref() == Some(asked.as_str()));
    let reopened = reopened.unwrap_or_else(|| panic!("the reopen asks for the rest: {log:?}"));
    let b2_sent = log.iter().position(|r| r.path == "/b2.bin");
    assert!(b2_sent.is_none_or(|b| b > reopened), "{log:?}");
    b2.abort();
    drop(a);
    dl.cancel_token().cancel();
}

/// A reader that seeks back into a gap whose prefetch is still queued waits for that prefetch:
/// it is raised to urgent at once and takes the next free slot ahead of urgent requests queued
/// after it. (Before, it stayed a prefetch, behind every urgent and normal request of every other
/// stream: on a busy downloader the reader waited out its whole budget.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_waiting_inside_a_queued_prefetch_raises_it_ahead_of_later_requests() {
    use kithara_test_support::Fault;
    let server = server();
    let never = |name: &str| never_sends(&server, name);
    let body = payload(MIB, 1);
    let gate = ThrottleHandle::new(16 * 1024);
    server.route(
        "/a.bin",
        Route::new(body.clone())
            .throttle_handle(gate.clone())
            .fault(Fault::Stall {
                after: 0,
                stall: std::time::Duration::MAX,
                times: 1,
            }),
    );
    let dl = downloader_with(|mut c: DownloaderConfig| {
        c.max_in_flight = 2;
        c.inactivity_timeout = PATIENCE * 20;
        c
    });
    let memory = |c: &mut kithara_file::FileConfig| c.options.storage = Some(StorageKind::Memory);
    // One slot is held for good; A's first request holds the other one.
    let b1 = open(&dl, never("/b1.bin"), memory).await.unwrap();
    let a = open(&dl, server.url("/a.bin"), memory).await.unwrap();
    // A's reader jumps near the end: its first request gives way to a paced one from there.
    let x = (MIB - 64 * 1024) as u64;
    let (a, got) = read_at(a, x, 1).await;
    assert_eq!(got.unwrap()[..], body[x as usize..x as usize + 1]);
    // B2 queues for a slot; then A's request ends, its slot goes to B2, and A's gap before the
    // reader (0..x) queues as a prefetch.
    let b2 = tokio::spawn({
        let (dl, url) = (dl.clone(), never("/b2.bin"));
        async move { open(&dl, url, memory).await }
    });
    stats_until(&dl, "B2 waits", |s| s.waiting_urgent == 1).await;
    gate.set(0);
    stats_until(&dl, "A's gap waits as a prefetch", |s| {
        s.waiting_urgent == 0 && s.waiting_prefetch == 1
    })
    .await;
    // B3 queues after it, urgent.
    let b3 = tokio::spawn({
        let (dl, url) = (dl.clone(), never("/b3.bin"));
        async move { open(&dl, url, memory).await }
    });
    stats_until(&dl, "B3 waits", |s| {
        s.waiting_urgent == 1 && s.waiting_prefetch == 1
    })
    .await;
    // A's reader seeks to the start of the gap (near enough not to restart anything) and waits.
    let reading = tokio::spawn(read_at(a, 1000, 4096));
    stats_until(&dl, "A's prefetch raised", |s| {
        s.waiting_urgent == 2 && s.waiting_prefetch == 0
    })
    .await;
    // A slot frees: A's request, queued before B3's, gets it.
    drop(b1);
    let (a, got) = reading.await.unwrap();
    assert_eq!(got.unwrap()[..], body[1000..5096]);
    let log = server.requests();
    let gap_range = format!("bytes=0-{}", x - 1);
    let gap = log
        .iter()
        .position(|r| r.path == "/a.bin" && r.range.as_deref() == Some(gap_range.as_str()));
    let gap = gap.unwrap_or_else(|| panic!("A's gap request is sent: {log:?}"));
    // B3 is sent only once A's gap request ended and gave its slot back, if at all yet.
    let b3_sent = log.iter().position(|r| r.path == "/b3.bin");
    assert!(b3_sent.is_none_or(|b| b > gap), "{log:?}");
    b3.abort();
    drop((a, b2.await.unwrap().unwrap()));
    dl.cancel_token().cancel();
}
