//! `Stream::bytes_fetched` of an HLS stream: every body byte received (playlists, the key,
//! segments), distinct from what the reader sees.

use kithara_stream::AbrMode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_fetched_is_what_the_server_sent() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/aes/v0.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(0);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    let plain = got.unwrap();
    tokio::time::timeout(PATIENCE, s.source().peer().settled())
        .await
        .unwrap();
    let log = server.requests();
    let sent: u64 = log.iter().map(|r| r.bytes_sent).sum();
    assert!(log.iter().any(|r| r.path.ends_with(".m3u8")));
    assert!(log.iter().any(|r| r.path.ends_with(".key")));
    assert_eq!(s.bytes_fetched(), sent, "{log:#?}");
    // The ciphertext carries the padding the plaintext lost; the playlist and key came on top.
    assert!(s.bytes_fetched() > plain.len() as u64);
}
