//! Station links over loopback: PLS and M3U links whose first entry is dead open the next,
//! relative entries resolve against the link, `file:` entries of a remote link are refused
//! without a read, and a link none of whose entries opens fails with each failure listed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kithara_open::{open_decoder, Error, OpenOptions, MAX_LINK_BYTES};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    ErrorClass,
};
use kithara_test_support::{LoopbackServer, Route};

fn server() -> LoopbackServer {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    server
}

fn options() -> OpenOptions {
    let dl = Downloader::new(DownloaderConfig::default()).unwrap();
    OpenOptions::builder().downloader(dl).build()
}

/// Every sample of the decoder of `src`.
async fn decode(src: url::Url) -> Result<Vec<f32>, Error> {
    let mut decoder = open_decoder(src, options()).await?;
    Ok(tokio::task::spawn_blocking(move || {
        let mut samples = Vec::new();
        while let Some(chunk) = decoder.next_chunk().unwrap() {
            samples.extend_from_slice(&chunk.samples);
        }
        samples
    })
    .await
    .unwrap())
}

fn paths(server: &LoopbackServer) -> Vec<String> {
    server.requests().into_iter().map(|r| r.path).collect()
}

#[tokio::test]
async fn a_pls_link_whose_first_entry_is_dead_plays_the_second() {
    let server = server();
    let want = decode(server.url("/media/chirp.mp3")).await.unwrap();
    let dead = server.url("/dead.mp3");
    let pls = format!(
        "[playlist]\nNumberOfEntries=2\nFile1={dead}\nTitle1=Dead\nFile2=/media/chirp.mp3\nLength2=-1\nVersion=2\n"
    );
    server.route(
        "/radio/station.pls",
        Route::new(pls).content_type("audio/x-scpls"),
    );
    server.clear_log();

    let got = decode(server.url("/radio/station.pls")).await.unwrap();
    assert!(got == want, "the second entry's PCM");
    let seen = paths(&server);
    assert_eq!(seen[0], "/radio/station.pls");
    assert!(seen.contains(&"/dead.mp3".to_owned()), "{seen:?}");
    assert!(seen.contains(&"/media/chirp.mp3".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn an_m3u_link_with_a_dead_and_a_relative_entry() {
    let server = server();
    let want = decode(server.url("/media/chirp.flac")).await.unwrap();
    // Served as mpegurl, like HLS: its body (no #EXT-X- tag) says it is a station list.
    let m3u = "#EXTM3U\n#EXTINF:-1,Dead\nhttp://127.0.0.1:1/gone.mp3\n#EXTINF:-1,Chirp\n../media/chirp.flac\n";
    server.route(
        "/lists/radio.m3u",
        Route::new(m3u).content_type("audio/x-mpegurl"),
    );
    let got = decode(server.url("/lists/radio.m3u")).await.unwrap();
    assert!(got == want);
    // The same list named .m3u8: HLS refuses it, and it is read as a station link.
    server.route(
        "/lists/radio.m3u8",
        Route::new(m3u).content_type("audio/x-mpegurl"),
    );
    let got = decode(server.url("/lists/radio.m3u8")).await.unwrap();
    assert!(got == want);
}

#[tokio::test]
async fn a_link_to_hls_and_an_hls_playlist_are_told_apart() {
    let server = server();
    let link = "http://127.0.0.1:1/x\n/media/hls/master.m3u8\n";
    server.route("/hls.m3u", Route::new(link));
    server.clear_log();
    let decoder = open_decoder(server.url("/hls.m3u"), options())
        .await
        .unwrap();
    assert!(decoder.with_stream(|s| s.source().is_hls()));
    // An HLS playlist named .m3u is HLS, not a link.
    let master = kithara_test_support::media::get("hls/master.m3u8").unwrap();
    server.route("/media/hls/other.m3u", Route::new(master.bytes.to_vec()));
    let decoder = open_decoder(server.url("/media/hls/other.m3u"), options())
        .await
        .unwrap();
    assert!(decoder.with_stream(|s| s.source().is_hls()));
}

#[tokio::test]
async fn a_remote_link_never_reads_a_local_file_and_all_failures_are_listed() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("secret.mp3");
    std::fs::write(
        &local,
        kithara_test_support::media::get("chirp.mp3").unwrap().bytes,
    )
    .unwrap();
    let file_url = url::Url::from_file_path(&local).unwrap();
    let pls =
        format!("[playlist]\nFile1={file_url}\nFile2=/nope.mp3\nFile3=/media/not-audio.txt\n");
    server.route(
        "/media/not-audio.txt",
        Route::new("hello, this is no audio".repeat(100)),
    );
    server.route("/bad.pls", Route::new(pls));
    server.clear_log();

    let err = decode(server.url("/bad.pls")).await.unwrap_err();
    let Error::StationLink { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(failures.len(), 3, "{err}");
    assert!(
        matches!(*failures[0].error, Error::EntryRefused { .. }),
        "{err}"
    );
    assert_eq!(failures[1].error.class(), ErrorClass::NotFound, "{err}");
    assert!(matches!(*failures[2].error, Error::Decode { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("1. file://") && text.contains("/nope.mp3") && text.contains("404"),
        "{text}"
    );
    // The local file was not read: no request names it, and the only requests are the link's
    // and the two http entries'.
    let seen = paths(&server);
    assert_eq!(
        seen.iter().filter(|p| *p == "/bad.pls").count(),
        1,
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|p| p == "/bad.pls" || p == "/nope.mp3" || p == "/media/not-audio.txt"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn an_empty_or_oversized_link_fails() {
    let server = server();
    server.route("/empty.pls", Route::new("[playlist]\nNumberOfEntries=0\n"));
    let err = decode(server.url("/empty.pls")).await.unwrap_err();
    assert!(
        matches!(&err, Error::StationLink { failures, .. } if failures.is_empty()),
        "{err:?}"
    );
    assert!(err.to_string().contains("lists no entry"));

    let big = format!(
        "[playlist]\n{}",
        "Title1=x\n".repeat(usize::try_from(MAX_LINK_BYTES).unwrap() / 8)
    );
    server.route("/big.pls", Route::new(big));
    let err = decode(server.url("/big.pls")).await.unwrap_err();
    assert!(matches!(err, Error::LinkTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_local_link_names_local_files() {
    let server = server();
    let want = decode(server.url("/media/chirp.flac")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chirp.flac"),
        kithara_test_support::media::get("chirp.flac")
            .unwrap()
            .bytes,
    )
    .unwrap();
    let link = dir.path().join("list.m3u");
    std::fs::write(&link, "missing.flac\nchirp.flac\n").unwrap();
    let mut decoder = open_decoder(link, options()).await.unwrap();
    let got = tokio::task::spawn_blocking(move || {
        let mut samples = Vec::new();
        while let Some(chunk) = decoder.next_chunk().unwrap() {
            samples.extend_from_slice(&chunk.samples);
        }
        samples
    })
    .await
    .unwrap();
    assert!(got == want);
}
