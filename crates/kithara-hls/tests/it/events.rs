//! The events of opening are observable through `Stream::events()` after `Stream::new` resolved.

use kithara_hls::HlsEvent;
use kithara_stream::{AbrMode, Received};

use crate::{
    cache::{close, open_cached, play_cached, store},
    common::*,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_served_from_the_cache_is_reported_to_the_first_receiver() {
    let server = server();
    let tmp = tempfile::tempdir().unwrap();
    let cache = store(tmp.path(), |_| {});
    let dl = downloader();
    let url = server.url("/media/hls/master.m3u8");
    let fixed = |c: &mut kithara_hls::HlsConfig| c.abr_mode = AbrMode::Fixed(0);
    let want = expected("ts", "v0.m3u8", None);
    assert!(play_cached(&dl, url.clone(), &cache, fixed).await == want);
    let s = open_cached(&dl, url.clone(), &cache, fixed).await.unwrap();
    let events = s.events().drain();
    let from_cache: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Received::Event(HlsEvent::PlaylistFromCache { url, .. }) => Some(url.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        from_cache.iter().any(|u| u.ends_with("/master.m3u8")),
        "{events:?}"
    );
    assert!(
        from_cache.iter().any(|u| u.ends_with("/v0.m3u8")),
        "{events:?}"
    );
    close(s).await;
}
