//! VOD presentations: exact bytes for every segment form, byte ranges, AES-128.

use kithara_stream::AbrMode;

use crate::common::*;

/// What a fixed-variant read of `playlist` must produce: the init (if any), then every segment.
fn expected(dir: &str, playlist: &str, init: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(i) = init {
        out.extend_from_slice(file(&format!("hls/{dir}/{i}")));
    }
    for uri in playlist_uris(&format!("hls/{dir}/{playlist}")) {
        out.extend_from_slice(file(&format!("hls/{dir}/{uri}")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ts_variant_bytes_are_the_segments_in_order() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.abr_mode(AbrMode::Fixed(1))
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    let got = got.unwrap();
    assert!(
        got == expected("ts", "v1.m3u8", None),
        "{} bytes",
        got.len()
    );
    assert_eq!(s.len(), Some(got.len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp4_starts_with_its_init_section() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master-fmp4.m3u8"), |c| {
        c.abr_mode(AbrMode::Fixed(2))
    })
    .await
    .unwrap();
    let (_s, got) = read_all(s).await;
    assert!(got.unwrap() == expected("fmp4", "v2.m3u8", Some("v2-init.mp4")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packed_adts_reads_through() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master-adts.m3u8"), |c| {
        c.abr_mode(AbrMode::Fixed(0))
    })
    .await
    .unwrap();
    let (_s, got) = read_all(s).await;
    assert!(got.unwrap() == expected("adts", "v0.m3u8", None));
}
