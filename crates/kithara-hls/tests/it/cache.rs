//! The persistent cache under `Stream<Hls>`: offline replay of every VOD form (TS, fMP4 with its
//! init section, byte ranges, AES-128 with and without key caching), and a half-played VOD
//! fetching only what it lacks.

use std::time::Duration;

use kithara_hls::{Hls, HlsConfig, HlsEvent};
use kithara_storage::{AssetKey, AssetStore, AssetStoreConfig, StorageKind};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig, RetryPolicy},
    AbrMode, Stream,
};
use kithara_test_support::{RequestRecord, ResponseEnd};

use crate::common::*;

pub(crate) fn store(dir: &std::path::Path, f: impl FnOnce(&mut AssetStoreConfig)) -> AssetStore {
    let mut config = AssetStoreConfig::builder().dir(dir).build();
    f(&mut config);
    AssetStore::new(config).expect("cache opens")
}

/// A downloader that gives up on a refused connection at once (the server of an offline replay
/// is gone; retrying it only takes time).
pub(crate) fn impatient() -> Downloader {
    Downloader::new(
        DownloaderConfig::builder()
            .system_proxy(false)
            .retry(RetryPolicy::builder().max_attempts(1).build())
            .build(),
    )
    .expect("the HTTP client builds")
}

/// Opens `url` with the cache `store`.
pub(crate) async fn open_cached(
    dl: &Downloader,
    url: url::Url,
    cache: &AssetStore,
    f: impl FnOnce(&mut HlsConfig),
) -> kithara_stream::Result<Stream<Hls>> {
    open(dl, url, |c| {
        c.options.storage = Some(StorageKind::Cache(cache.clone()));
        f(c);
    })
    .await
}

/// Opens `url` with the cache `store`, reads it to the end and closes it: the bytes read.
pub(crate) async fn play_cached(
    dl: &Downloader,
    url: url::Url,
    cache: &AssetStore,
    f: impl FnOnce(&mut HlsConfig),
) -> Vec<u8> {
    let s = open_cached(dl, url, cache, f).await.unwrap();
    let (s, got) = read_all(s).await;
    close(s).await;
    got.unwrap()
}

/// The method and path of every request `server` saw, in order.
pub(crate) fn seen(server: &kithara_test_support::LoopbackServer) -> Vec<(String, String)> {
    server
        .requests()
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect()
}

/// Drops the stream and waits until its peer is idle (its cached assets are then released).
pub(crate) async fn close(s: Stream<Hls>) {
    let peer = s.source().peer().clone();
    drop(s);
    tokio::time::timeout(PATIENCE, peer.idle())
        .await
        .expect("peer goes idle after the stream is dropped");
}

/// The cached asset of a whole segment, opened as a stream would (waiting briefly for the last
/// stream's handles to go).
async fn cached_segment(cache: &AssetStore, seg: url::Url) -> kithara_storage::StorageResource {
    let kind = StorageKind::Cache(cache.clone());
    tokio::task::spawn_blocking(move || {
        kind.create_for(&AssetKey::new(&seg).with_segment(seg.as_str(), None))
            .unwrap()
    })
    .await
    .unwrap()
}

/// Reads the whole stream once online (checking the bytes), closes it and stops the server; then
/// plays it again from the cache and returns what the offline run read.
async fn replay_offline(
    path: &str,
    cache: &AssetStore,
    want: &[u8],
    f: impl Fn(&mut HlsConfig),
) -> (std::io::Result<Vec<u8>>, url::Url) {
    let server = server();
    let url = server.url(path);
    let dl = downloader();
    assert!(
        play_cached(&dl, url.clone(), cache, &f).await == want,
        "the online run reads the fixture"
    );
    drop(server);
    let dl = impatient();
    let s = open_cached(&dl, url.clone(), cache, &f)
        .await
        .expect("a cached VOD opens with the server gone");
    let (s, got) = read_all(s).await;
    close(s).await;
    (got, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ts_vod_replays_from_the_cache_with_the_server_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let want = expected("ts", "v1.m3u8", None);
    let got = replay_offline("/media/hls/master.m3u8", &cache, &want, |c| {
        c.abr_mode = AbrMode::Fixed(1);
    })
    .await
    .0;
    assert!(got.unwrap() == want, "the offline run reads the same bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_open_reports_the_failed_revalidations_and_the_pieces_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let (tx, mut rx) = tokio::sync::broadcast::channel(256);
    let want = expected("ts", "v0.m3u8", None);
    let got = replay_offline("/media/hls/ts/v0.m3u8", &cache, &want, |c| {
        c.options.events = Some(tx.clone());
    })
    .await
    .0;
    assert!(got.unwrap() == want);
    let events: Vec<HlsEvent> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let count = |f: fn(&HlsEvent) -> bool| events.iter().filter(|e| f(e)).count();
    // The offline run: the playlist's revalidation fails and the cached copy is used.
    assert_eq!(
        count(|e| matches!(e, HlsEvent::RevalidationFailed { .. })),
        1
    );
    assert_eq!(
        count(|e| matches!(
            e,
            HlsEvent::PlaylistFromCache {
                revalidated: false,
                ..
            }
        )),
        1
    );
    // Every segment of the offline run came from the cache; none was fetched.
    let segments = playlist_uris("hls/ts/v0.m3u8").len();
    assert_eq!(count(|e| matches!(e, HlsEvent::FromCache { .. })), segments);
    assert_eq!(
        count(|e| matches!(e, HlsEvent::SegmentFetched { .. })),
        segments,
        "fetched once, by the online run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fmp4_vod_replays_its_init_section_and_segments_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let want = expected("fmp4", "v2.m3u8", Some("v2-init.mp4"));
    let got = replay_offline("/media/hls/master-fmp4.m3u8", &cache, &want, |c| {
        c.abr_mode = AbrMode::Fixed(2);
    })
    .await
    .0;
    assert!(got.unwrap() == want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_range_segments_replay_offline_as_assets_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let want = file("hls/byterange/v0.ts").to_vec();
    let (got, _) = replay_offline("/media/hls/byterange/v0.m3u8", &cache, &want, |_| {}).await;
    assert!(got.unwrap() == want);
    // One asset per range (and one for the playlist): no range was stored as the whole file.
    let ranges = std::str::from_utf8(file("hls/byterange/v0.m3u8"))
        .unwrap()
        .matches("#EXT-X-BYTERANGE:")
        .count();
    let entries = cache.list().unwrap();
    let segments = entries
        .iter()
        .filter(|e| e.label.as_deref().is_some_and(|l| l.contains("v0.ts [")))
        .count();
    assert_eq!(segments, ranges, "{entries:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_replay_costs_a_head_per_playlist_and_no_segment_request() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let url = server.url("/media/hls/master-fmp4.m3u8");
    let dl = downloader();
    let fixed = |c: &mut HlsConfig| c.abr_mode = AbrMode::Fixed(0);
    let want = expected("fmp4", "v0.m3u8", Some("v0-init.mp4"));
    assert!(play_cached(&dl, url.clone(), &cache, fixed).await == want);
    server.clear_log();
    assert!(play_cached(&dl, url.clone(), &cache, fixed).await == want);
    let seen = seen(&server);
    assert_eq!(
        seen,
        [
            ("HEAD".to_owned(), "/media/hls/master-fmp4.m3u8".to_owned()),
            ("HEAD".to_owned(), "/media/hls/fmp4/v0.m3u8".to_owned()),
        ],
        "the playlists are revalidated, nothing else is asked for"
    );
    // Validated recently enough: not even the playlists are asked for.
    let fresh = store(tmp.path(), |c| {
        c.metadata_freshness = Duration::from_secs(3600);
    });
    server.clear_log();
    assert!(play_cached(&dl, url, &fresh, fixed).await == want);
    assert_eq!(server.requests().len(), 0, "{:#?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_vod_replays_offline_with_key_caching_on() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |c| c.cache_keys = true);
    let want = expected("ts", "v0.m3u8", None);
    let (got, url) = replay_offline("/media/hls/aes/v0.m3u8", &cache, &want, |_| {}).await;
    assert!(got.unwrap() == want, "plaintext equals the clear TS");
    // The segment asset holds the ciphertext the server sent, and the key beside it.
    let res = cached_segment(&cache, url.join("v0-00.ts").unwrap()).await;
    let asset = res.asset().expect("segment cached");
    assert_eq!(
        std::fs::read(asset.data_path()).unwrap(),
        file("hls/aes/v0-00.ts"),
        "the ciphertext is cached, not the plaintext"
    );
    assert_eq!(
        asset.key().unwrap().as_deref(),
        Some(file("hls/aes/v0.key"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_vod_offline_without_key_caching_fails_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let want = expected("ts", "v0.m3u8", None);
    let (got, url) = replay_offline("/media/hls/aes/v0.m3u8", &cache, &want, |_| {}).await;
    let err = got.unwrap_err();
    let typed = kithara_stream::Error::from_io(&err).expect("typed");
    match kithara_hls::Error::find(typed) {
        Some(kithara_hls::Error::KeyFetch { uri, .. }) => {
            assert!(uri.as_str().ends_with("/media/hls/aes/v0.key"), "{uri}");
        }
        other => panic!("{typed}: {other:?}"),
    }
    // No key reached the disk.
    let res = cached_segment(&cache, url.join("v0-00.ts").unwrap()).await;
    let asset = res.asset().expect("segment cached");
    assert_eq!(asset.key().unwrap(), None);
}

/// The segment requests of a log: (path, range) of each GET of a `.ts`.
pub(crate) fn segment_gets(log: &[RequestRecord]) -> Vec<&RequestRecord> {
    log.iter()
        .filter(|r| r.method == http::Method::GET && r.path.ends_with(".ts"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_played_vod_fetches_only_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let server = server();
    let url = server.url("/media/hls/ts/v1.m3u8");
    let dl = downloader();
    let want = expected("ts", "v1.m3u8", None);
    let uris = playlist_uris("hls/ts/v1.m3u8");
    let short = |c: &mut HlsConfig| c.buffer_ahead = Duration::from_secs(4);
    // Session 1: the first few kilobytes; once the fetches it started are over, it is dropped.
    let (tx, mut events) = event_channel();
    let s = open_cached(&dl, url.clone(), &cache, |c| {
        short(c);
        c.options.events = Some(tx);
    })
    .await
    .unwrap();
    let (s, head) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut buf = vec![0u8; 8 * 1024];
        std::io::Read::read_exact(&mut s, &mut buf).map(|()| (s, buf))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(head[..] == want[..head.len()]);
    assert!(
        server
            .wait_until_async(PATIENCE, |log, _| log.iter().all(|r| r.end.is_some()))
            .await
    );
    let whole = |r: &&RequestRecord| {
        r.end == Some(ResponseEnd::Completed)
            && r.bytes_sent == file(&r.path["/media/".len()..]).len() as u64
    };
    // Every segment the server finished sending is in storage too.
    let sent = segment_gets(&server.requests())
        .into_iter()
        .filter(whole)
        .count();
    let mut stored = 0;
    while stored < sent {
        let e = tokio::time::timeout(PATIENCE, events.recv()).await;
        if let HlsEvent::SegmentFetched { .. } = e.unwrap().unwrap() {
            stored += 1;
        }
    }
    close(s).await;
    let first = server.requests();
    let fetched: Vec<String> = segment_gets(&first)
        .into_iter()
        .filter(whole)
        .map(|r| r.path.clone())
        .collect();
    assert!(
        !fetched.is_empty() && fetched.len() < uris.len(),
        "{fetched:?}"
    );
    server.clear_log();
    // Session 2: everything, fetching only what session 1 did not.
    assert!(play_cached(&dl, url, &cache, short).await == want);
    let second = server.requests();
    for r in segment_gets(&second) {
        assert!(
            !fetched.contains(&r.path),
            "{} was fetched whole in session 1 and again in session 2",
            r.path
        );
    }
    for uri in &uris {
        let path = format!("/media/hls/ts/{uri}");
        let again = segment_gets(&second).iter().any(|r| r.path == path);
        assert!(
            fetched.contains(&path) != again,
            "{path} is fetched in exactly one of the sessions"
        );
    }
}
