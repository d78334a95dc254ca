//! Resuming, revalidating and keeping through the persistent cache: a segment an earlier session
//! left half fetched resumes with a range; a changed segment or playlist is fetched again; a
//! redirected playlist replays offline; a playing stream's pieces are not evicted; a live
//! playlist never comes from the cache.

use std::time::Duration;

use kithara_hls::{Hls, HlsEvent};
use kithara_stream::Stream;
use kithara_test_support::{Fault, RequestRecord, Route};

use crate::cache::*;
use crate::common::*;

/// Session 1 of a resume: the second segment of `ts/v1.m3u8` stalls after 3000 bytes; the reader
/// takes the first segment and those 3000 bytes (so they are in storage), and the stream is
/// dropped. Returns the playlist URL and the path of the cut segment.
async fn leave_half_a_segment(
    server: &kithara_test_support::LoopbackServer,
    cache: &kithara_storage::AssetStore,
) -> (url::Url, String) {
    let uris = playlist_uris("hls/ts/v1.m3u8");
    let seg0 = file(&format!("hls/ts/{}", uris[0]));
    let cut = format!("/media/hls/ts/{}", uris[1]);
    let body = file(&cut["/media/".len()..]);
    server.route(
        &cut,
        Route::new(body.to_vec()).fault(Fault::Stall {
            after: 3000,
            stall: Duration::MAX,
            times: 1,
        }),
    );
    let url = server.url("/media/hls/ts/v1.m3u8");
    let s = open_cached(&downloader(), url.clone(), cache, |_| {})
        .await
        .unwrap();
    let n = seg0.len() + 3000;
    let (s, head) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut buf = vec![0u8; n];
        std::io::Read::read_exact(&mut s, &mut buf).map(|()| (s, buf))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(head[..seg0.len()] == seg0[..] && head[seg0.len()..] == body[..3000]);
    close(s).await;
    server.clear_log();
    (url, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_cached_segment_resumes_with_a_range() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let (url, cut) = leave_half_a_segment(&server, &cache).await;
    let body = file(&cut["/media/".len()..]);
    // Session 2: the rest of that segment only.
    assert!(
        play_cached(&downloader(), url, &cache, |_| {}).await == expected("ts", "v1.m3u8", None)
    );
    let log = server.requests();
    let resumed: Vec<&RequestRecord> = log.iter().filter(|r| r.path == cut).collect();
    assert_eq!(resumed.len(), 1, "{log:#?}");
    assert_eq!(resumed[0].range.as_deref(), Some("bytes=3000-"));
    assert!(
        resumed[0].if_range.is_some(),
        "the resume carries the validator"
    );
    assert_eq!(resumed[0].bytes_sent, body.len() as u64 - 3000);
    let first = format!("/media/hls/ts/{}", playlist_uris("hls/ts/v1.m3u8")[0]);
    assert!(
        !log.iter().any(|r| r.path == first),
        "the complete first segment is not asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_cached_segment_that_changed_is_fetched_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let (url, cut) = leave_half_a_segment(&server, &cache).await;
    // The server's version changes (same length, another ETag).
    let mut changed = file(&cut["/media/".len()..]).to_vec();
    let last = changed.len() - 1;
    changed[last] ^= 0xff;
    server.route(&cut, Route::new(changed.clone()));
    let (tx, mut events) = event_channel();
    let s = open_cached(&downloader(), url, &cache, |c| c.options.events = Some(tx))
        .await
        .unwrap();
    let (s, got) = read_all(s).await;
    close(s).await;
    let uris = playlist_uris("hls/ts/v1.m3u8");
    let want: Vec<u8> = uris
        .iter()
        .flat_map(|u| {
            if cut.ends_with(&format!("/{u}")) {
                changed.clone()
            } else {
                file(&format!("hls/ts/{u}")).to_vec()
            }
        })
        .collect();
    assert!(got.unwrap() == want, "the new version, never the old bytes");
    let log = server.requests();
    let asked: Vec<Option<String>> = log
        .iter()
        .filter(|r| r.path == cut)
        .map(|r| r.range.clone())
        .collect();
    assert_eq!(asked, [Some("bytes=3000-".to_owned()), None], "{log:#?}");
    let changes = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, HlsEvent::VersionChanged { .. }))
        .count();
    assert_eq!(changes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_playlist_is_fetched_again_and_its_cached_segments_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let url = server.url("/media/hls/ts/v1.m3u8");
    let dl = downloader();
    let want = expected("ts", "v1.m3u8", None);
    assert!(play_cached(&dl, url.clone(), &cache, |_| {}).await == want);
    // Another version of the playlist (a comment more) listing the same segments.
    let mut text = String::from_utf8(file("hls/ts/v1.m3u8").to_vec()).unwrap();
    text.push_str("# republished\n");
    server.route("/media/hls/ts/v1.m3u8", Route::new(text.into_bytes()));
    server.clear_log();
    assert!(play_cached(&dl, url, &cache, |_| {}).await == want);
    let seen = seen(&server);
    assert_eq!(
        seen,
        [
            ("HEAD".to_owned(), "/media/hls/ts/v1.m3u8".to_owned()),
            ("GET".to_owned(), "/media/hls/ts/v1.m3u8".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_master_replays_offline_against_where_it_was_served_from() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    server.route(
        "/go/elsewhere.m3u8",
        Route::new(Vec::new()).redirect("/media/hls/master.m3u8", 302),
    );
    let url = server.url("/go/elsewhere.m3u8?session=1");
    let fixed = |c: &mut kithara_hls::HlsConfig| c.abr_mode = kithara_stream::AbrMode::Fixed(2);
    let want = expected("ts", "v2.m3u8", None);
    assert!(play_cached(&downloader(), url.clone(), &cache, fixed).await == want);
    drop(server);
    assert!(
        play_cached(&impatient(), url, &cache, fixed).await == want,
        "relative URIs resolve as online"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playing_stream_keeps_its_pieces_from_eviction() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let url = server.url("/media/hls/ts/v1.m3u8");
    let segments = playlist_uris("hls/ts/v1.m3u8").len();
    let s = open_cached(&downloader(), url, &cache, |_| {})
        .await
        .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == expected("ts", "v1.m3u8", None));
    let gc = |c: kithara_storage::AssetStore| async move {
        tokio::task::spawn_blocking(move || {
            let report = c.gc(0).unwrap();
            (report, c.list().unwrap())
        })
        .await
        .unwrap()
    };
    // While the stream lives, no segment of it goes, even asked to free everything.
    let (report, left) = gc(cache.clone()).await;
    let kept = left
        .iter()
        .filter(|e| e.label.as_deref().is_some_and(|l| l.ends_with(".ts]")))
        .count();
    assert_eq!(kept, segments, "{report:?} {left:#?}");
    assert!(report.skipped_in_use >= segments);
    close(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_replay_online_asks_for_the_key_only_without_key_caching() {
    for cache_keys in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let cache = store(tmp.path(), |c| c.cache_keys = cache_keys);
        let server = server();
        let url = server.url("/media/hls/aes/v0.m3u8");
        let dl = downloader();
        let want = expected("ts", "v0.m3u8", None);
        let s = open_cached(&dl, url.clone(), &cache, |_| {}).await.unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == want);
        close(s).await;
        server.clear_log();
        let s = open_cached(&dl, url, &cache, |_| {}).await.unwrap();
        let (s, got) = read_all(s).await;
        assert!(got.unwrap() == want, "cache_keys {cache_keys}");
        close(s).await;
        let seen = seen(&server);
        let mut want_seen = vec![("HEAD".to_owned(), "/media/hls/aes/v0.m3u8".to_owned())];
        if !cache_keys {
            want_seen.push(("GET".to_owned(), "/media/hls/aes/v0.key".to_owned()));
        }
        assert_eq!(
            seen, want_seen,
            "cache_keys {cache_keys}: no segment is fetched again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_fallback_does_not_count_as_a_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let url = server.url("/media/hls/ts/v0.m3u8");
    let validated_at = |cache: kithara_storage::AssetStore, url: url::Url| async move {
        tokio::task::spawn_blocking(move || {
            let key = kithara_storage::AssetKey::new(&url);
            let asset = cache
                .open_read_only(&key)
                .unwrap()
                .expect("playlist cached");
            asset.index().validated_at()
        })
        .await
        .unwrap()
    };
    let s = open_cached(&downloader(), url.clone(), &cache, |_| {})
        .await
        .unwrap();
    let want = expected("ts", "v0.m3u8", None);
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == want);
    close(s).await;
    drop(server);
    let before = validated_at(cache.clone(), url.clone()).await;
    assert!(before.is_some());
    let s = open_cached(&impatient(), url.clone(), &cache, |_| {})
        .await
        .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == want, "the offline copy is the same bytes");
    close(s).await;
    assert_eq!(validated_at(cache.clone(), url).await, before);
}

/// A live playlist over the v0 TS segments: the window `first..=last`, no `ENDLIST`.
fn live_playlist(first: usize, last: usize) -> String {
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for uri in &uris[first..=last] {
        p.push_str(&format!("#EXTINF:1.0,\nts/{uri}\n"));
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_playlist_is_neither_stored_nor_served_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |c| c.offline_first = true);
    let server = server();
    server.route("/media/hls/live.m3u8", Route::new(live_playlist(0, 2)));
    let url = server.url("/media/hls/live.m3u8");
    let dl = downloader();
    let head = |s: Stream<Hls>| async move {
        tokio::task::spawn_blocking(move || {
            let mut s = s;
            let mut buf = [0u8; 188];
            std::io::Read::read_exact(&mut s, &mut buf).map(|()| (s, buf))
        })
        .await
        .unwrap()
    };
    let first = file(&format!("hls/ts/{}", playlist_uris("hls/ts/v0.m3u8")[0]));
    let s = open_cached(&dl, url.clone(), &cache, |_| {}).await.unwrap();
    let (s, got) = head(s).await.unwrap();
    assert_eq!(&got[..], &first[..188]);
    close(s).await;
    assert!(
        cache.list().unwrap().is_empty(),
        "nothing of a live stream is stored: {:#?}",
        cache.list().unwrap()
    );
    server.clear_log();
    let s = open_cached(&dl, url, &cache, |_| {}).await.unwrap();
    let (s, got) = head(s).await.unwrap();
    assert_eq!(&got[..], &first[..188]);
    close(s).await;
    let playlist_gets = server
        .requests()
        .iter()
        .filter(|r| r.method == http::Method::GET && r.path == "/media/hls/live.m3u8")
        .count();
    assert!(
        playlist_gets >= 1,
        "the second open fetches the playlist again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_another_variant_than_the_cached_one_falls_back_to_the_cached_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let url = server.url("/media/hls/master.m3u8");
    let want = expected("ts", "v0.m3u8", None);
    assert!(
        play_cached(&downloader(), url.clone(), &cache, |c| {
            c.abr_mode = kithara_stream::AbrMode::Fixed(0);
        })
        .await
            == want
    );
    drop(server);
    // Offline, variant 2 is asked for: its playlist is not cached, variant 0's is.
    let (tx, mut events) = event_channel();
    let s = open_cached(&impatient(), url, &cache, |c| {
        c.options.events = Some(tx);
        c.abr_mode = kithara_stream::AbrMode::Fixed(2);
    })
    .await
    .expect("opens on the cached variant");
    let (s, got) = read_all(s).await;
    close(s).await;
    assert!(got.unwrap() == want, "every segment from the cache");
    let fetched = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, HlsEvent::SegmentFetched { .. }))
        .count();
    assert_eq!(fetched, 0);
}
