//! The one-call open against the bundled media on a loopback server: the same PCM as opening
//! `Stream<File>` / `Stream<Hls>` by hand, HLS told apart by `.m3u8` or by the playlist MIME type,
//! local paths, and the refusals of a fixed variant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{File, FileConfig};
use kithara_hls::{Hls, HlsConfig, HlsEvent};
use kithara_open::{open, open_decoder, AnyDecoder, AnyEvent, Error, HlsOptions, OpenOptions};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    AbrMode, RedactedUrl, Stream, StreamType,
};
use kithara_test_support::{LoopbackServer, Route};

fn media_server() -> LoopbackServer {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    server
}

fn downloader() -> Downloader {
    Downloader::new(DownloaderConfig::default()).unwrap()
}

fn options(dl: &Downloader) -> OpenOptions {
    OpenOptions::builder().downloader(dl.clone()).build()
}

/// Every sample of `decoder`, decoded on the blocking pool.
async fn decode_all<T: StreamType>(mut decoder: Decoder<T>) -> Vec<f32>
where
    Decoder<T>: Send,
{
    tokio::task::spawn_blocking(move || {
        let mut samples = Vec::new();
        while let Some(chunk) = decoder.next_chunk().unwrap() {
            samples.extend_from_slice(&chunk.samples);
        }
        samples
    })
    .await
    .unwrap()
}

/// Today's path: the protocol's config, its stream, a decoder with the origin passed again.
async fn by_hand<T: StreamType>(config: T::Config, url: &url::Url) -> Vec<f32>
where
    Decoder<T>: Send,
{
    let stream = Stream::<T>::new(config).await.unwrap();
    let config = DecoderConfig::builder()
        .origin(RedactedUrl::new(url))
        .build();
    let decoder = tokio::task::spawn_blocking(move || Decoder::new(stream, config))
        .await
        .unwrap()
        .unwrap();
    decode_all(decoder).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_url_decodes_like_a_file_stream() {
    let server = media_server();
    let dl = downloader();
    for name in ["chirp.mp3", "chirp.flac"] {
        let url = server.url(&format!("/media/{name}"));
        let config = FileConfig::remote(url.clone(), dl.clone()).build();
        let want = by_hand::<File>(config, &url).await;
        let decoder: AnyDecoder = open_decoder(url.clone(), options(&dl)).await.unwrap();
        decoder.with_stream(|s| {
            assert!(!s.source().is_hls(), "{name}");
            assert_eq!(s.source().origin(), Some(&RedactedUrl::new(&url)));
        });
        let got = decode_all(decoder).await;
        assert!(got.len() > 10_000, "{name}: {} samples", got.len());
        assert!(got == want, "{name}: the PCM differs from Stream<File>'s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hls_url_decodes_like_an_hls_stream() {
    let server = media_server();
    let dl = downloader();
    let url = server.url("/media/hls/master.m3u8");
    let config = HlsConfig::builder()
        .url(url.clone())
        .downloader(dl.clone())
        .abr_mode(AbrMode::Fixed(1))
        .build();
    let want = by_hand::<Hls>(config, &url).await;
    let options = OpenOptions::builder()
        .downloader(dl.clone())
        .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(1)).build())
        .build();
    let decoder = open_decoder(url, options).await.unwrap();
    decoder.with_stream(|s| {
        let hls = s.source().as_hls().expect("an HLS source");
        assert_eq!(hls.variants().len(), 3);
    });
    let got = decode_all(decoder).await;
    assert!(got.len() > 100_000, "{} samples", got.len());
    assert!(got == want, "the PCM differs from Stream<Hls>'s");
    assert!(server
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/media/hls/ts/v0-")
            && !r.path.starts_with("/media/hls/ts/v2-")));
}

/// No `.m3u8` in the URL: the server's `Content-Type` says it is a playlist, so the file stream
/// is dropped and the URL opens as HLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_mime_type_opens_as_hls() {
    let server = media_server();
    let master = kithara_test_support::media::get("hls/master.m3u8").unwrap();
    server.route(
        "/media/hls/listen",
        Route::new(master.bytes.to_vec()).content_type("application/vnd.apple.mpegurl"),
    );
    let dl = downloader();
    let fixed = || {
        OpenOptions::builder()
            .downloader(dl.clone())
            .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(1)).build())
            .build()
    };
    let want = decode_all(
        open_decoder(server.url("/media/hls/master.m3u8"), fixed())
            .await
            .unwrap(),
    )
    .await;
    let url = server.url("/media/hls/listen");
    let decoder = open_decoder(url.clone(), fixed()).await.unwrap();
    assert!(decoder.with_stream(|s| s.source().is_hls()));
    assert_eq!(
        decoder.with_stream(|s| s.source().origin().cloned()),
        Some(RedactedUrl::new(&url))
    );
    let got = decode_all(decoder).await;
    assert!(got.len() > 100_000, "{} samples", got.len());
    assert!(got == want, "the PCM differs from the .m3u8 URL's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_path_decodes_like_its_url() {
    let server = media_server();
    let dl = downloader();
    let dir = tempfile::tempdir().unwrap();
    for name in ["chirp.mp3", "chirp.flac"] {
        let path = dir.path().join(name);
        let bytes = kithara_test_support::media::get(name).unwrap().bytes;
        std::fs::write(&path, bytes).unwrap();
        let want = decode_all(
            open_decoder(server.url(&format!("/media/{name}")), options(&dl))
                .await
                .unwrap(),
        )
        .await;
        server.clear_log();
        let decoder = open_decoder(path.as_path(), options(&dl)).await.unwrap();
        let origin = decoder.with_stream(|s| s.source().origin().map(ToString::to_string));
        assert!(origin.is_some_and(|o| o.starts_with("file://")), "{name}");
        let got = decode_all(decoder).await;
        assert!(got == want, "{name}: the PCM differs from the URL's");
        assert!(server.requests().is_empty(), "{:?}", server.requests());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_variant_is_refused_where_there_is_none() {
    let server = media_server();
    let flac = kithara_test_support::media::get("chirp.flac").unwrap();
    server.route(
        "/listen",
        Route::new(flac.bytes.to_vec()).content_type("audio/flac"),
    );
    let dl = downloader();
    let fixed = |v| {
        OpenOptions::builder()
            .downloader(dl.clone())
            .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(v)).build())
            .build()
    };
    // Named like an audio file: refused before any request.
    let err = open(server.url("/media/chirp.flac"), fixed(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotAdaptive { .. }), "{err}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    // No extension: refused after the one request that shows a file.
    let err = open(server.url("/listen"), fixed(1)).await.unwrap_err();
    assert!(matches!(err, Error::NotAdaptive { .. }), "{err}");
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    // Past the ladder's end.
    let err = open(server.url("/media/hls/master.m3u8"), fixed(7))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoSuchVariant {
                index: 7,
                count: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("no variant 7"), "{err}");
    // A local playlist.
    let err = open(std::path::Path::new("list.m3u8"), fixed(0))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LocalPlaylist { .. }), "{err}");
}

/// A sender passed in the options sees the protocol's events, wrapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_as_any_events() {
    let server = media_server();
    let dl = downloader();
    let (tx, mut rx) = tokio::sync::broadcast::channel(1024);
    let options = OpenOptions::builder()
        .downloader(dl.clone())
        .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(0)).build())
        .events(tx)
        .build();
    let decoder = open_decoder(server.url("/media/hls/master.m3u8"), options)
        .await
        .unwrap();
    // The stream keeps fetching while the decoder lives.
    loop {
        match rx.recv().await.unwrap() {
            AnyEvent::Hls(HlsEvent::SegmentFetched { variant, .. }) => {
                assert_eq!(variant, 0);
                break;
            }
            AnyEvent::Hls(_) => {}
            other => panic!("not an HLS event: {other:?}"),
        }
    }
    assert!(!decode_all(decoder).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_fails_the_open_with_the_stream_error() {
    let server = media_server();
    let dl = downloader();
    let err = open(server.url("/media/nothing.mp3"), options(&dl))
        .await
        .unwrap_err();
    let Error::Stream { source: inner, .. } = &err else {
        panic!("not a stream error: {err:?}");
    };
    assert_eq!(inner.status(), Some(404), "{inner}");
}

/// The bytes of `open` (and of `Stream::<AnyMedia>::new`, the same open through `StreamType`)
/// are the served file's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_reads_the_served_bytes() {
    use std::io::Read;

    use kithara_open::{AnyConfig, AnyMedia};

    let server = media_server();
    let dl = downloader();
    let want = kithara_test_support::media::get("chirp.flac")
        .unwrap()
        .bytes;
    let url = server.url("/media/chirp.flac");
    let streams = [
        open(url.clone(), options(&dl)).await.unwrap(),
        Stream::<AnyMedia>::new(AnyConfig::new(url, options(&dl)))
            .await
            .unwrap(),
    ];
    for mut stream in streams {
        let (got, fetched) = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            // Everything is read: nothing is buffered ahead of the reader.
            assert_eq!(
                kithara_stream::Source::buffered_ahead(stream.source()),
                Some(0)
            );
            (got, stream.bytes_fetched())
        })
        .await
        .unwrap();
        assert!(
            got == want,
            "{} bytes read, {} served",
            got.len(),
            want.len()
        );
        // `AnySource` forwards the protocol's answers (not the trait's defaults of 0 and `None`).
        assert_eq!(fetched, want.len() as u64);
    }
}

/// A seek by time on an HLS decoder lands on the linear decode's samples (the time seek goes
/// through `AnySource` to the HLS source).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hls_seek_lands_on_the_linear_decode() {
    let server = media_server();
    let dl = downloader();
    let fixed = || {
        OpenOptions::builder()
            .downloader(dl.clone())
            .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(2)).build())
            .build()
    };
    let url = server.url("/media/hls/master.m3u8");
    let linear = decode_all(open_decoder(url.clone(), fixed()).await.unwrap()).await;
    let mut decoder = open_decoder(url, fixed()).await.unwrap();
    let (rate, channels) = (decoder.info().sample_rate, decoder.info().channels);
    // 12.5 s: in the middle of a segment.
    let frame = usize::try_from(u64::from(rate) * 25 / 2).unwrap();
    let chunk = tokio::task::spawn_blocking(move || {
        decoder
            .seek(std::time::Duration::from_millis(12_500))
            .unwrap();
        decoder.next_chunk().unwrap().unwrap()
    })
    .await
    .unwrap();
    let at = frame * usize::from(channels);
    assert!(
        chunk.samples[..] == linear[at..at + chunk.samples.len()],
        "the PCM after the seek differs from the linear decode at frame {frame}"
    );
}

/// The typed errors and the flat classification reach through the open's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_errors_classify_and_find_the_stream_error() {
    use kithara_stream::{find_error, ErrorClass};

    let server = media_server();
    let dl = downloader();
    let err = open(server.url("/media/nothing.mp3"), options(&dl))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound, "{err}");
    assert_eq!(ErrorClass::of(&err), ErrorClass::NotFound, "{err}");
    let found = find_error::<kithara_stream::Error>(&err).expect("the stream error");
    assert_eq!(found.status(), Some(404));
    let fixed = OpenOptions::builder()
        .downloader(dl.clone())
        .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(1)).build())
        .build();
    let err = open(server.url("/media/chirp.mp3"), fixed)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
}

/// `AnySource` forwards the metadata marks of the protocol's source (here an HLS playlist's
/// `EXT-X-DATERANGE`, placed through its `EXT-X-PROGRAM-DATE-TIME`), not the trait's default
/// of none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_marks_are_forwarded() {
    use kithara_stream::{MarkAt, MetadataMark, Source};

    let server = media_server();
    let playlist = kithara_test_support::media::get("hls/ts/v0.m3u8")
        .unwrap()
        .bytes;
    let text = String::from_utf8(playlist.to_vec()).unwrap().replacen(
        "#EXTINF",
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:00.000Z\n\
         #EXT-X-DATERANGE:ID=\"a\",START-DATE=\"2026-12-06T10:00:05.250Z\",X-TITLE=\"five\"\n\
         #EXTINF",
        1,
    );
    // Beside the bundled segments, so that their relative URIs resolve.
    server.route(
        "/media/hls/ts/dates.m3u8",
        Route::new(text).content_type("application/vnd.apple.mpegurl"),
    );
    let url = server.url("/media/hls/ts/dates.m3u8");
    let dl = downloader();
    let any = open(url.clone(), options(&dl)).await.unwrap();
    let hls = Stream::<Hls>::new(HlsConfig::builder().url(url).downloader(dl).build())
        .await
        .unwrap();
    let marks = |m: Vec<MetadataMark>| {
        m.into_iter()
            .map(|m| (m.seq, m.at, m.now_playing.title))
            .collect::<Vec<_>>()
    };
    let want = vec![(
        0,
        MarkAt::Time(std::time::Duration::from_millis(5250)),
        Some("five".to_owned()),
    )];
    assert_eq!(marks(hls.source().metadata_marks(0)), want);
    assert_eq!(marks(any.source().metadata_marks(0)), want);
    assert!(any.source().metadata_marks(1).is_empty());
}

/// The radio settings reach an endless body opened in one call: ICY requested by default (titles
/// come as marks), not at all when turned off, and the audio is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radio_options_reach_an_endless_body() {
    use kithara_file::RadioConfig;
    use kithara_stream::Source;
    use kithara_test_support::Radio;

    let server = media_server();
    let mp3 = kithara_test_support::media::get("chirp.mp3").unwrap().bytes;
    server.route(
        "/live",
        Route::radio(Radio::new(mp3).metaint(8192)).content_type("audio/mpeg"),
    );
    let dl = downloader();
    // The first 64 KiB of audio, through the one-call open.
    let read = |icy: bool| {
        let options = OpenOptions::builder()
            .downloader(dl.clone())
            .radio(RadioConfig::builder().icy(icy).build())
            .build();
        let url = server.url("/live");
        async move {
            let stream = open(url, options).await.unwrap();
            tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut stream = stream;
                let mut audio = vec![0u8; 64 * 1024];
                stream.read_exact(&mut audio).unwrap();
                let titles = stream.source().metadata_marks(0).len();
                (audio, titles)
            })
            .await
            .unwrap()
        }
    };
    let looped: Vec<u8> = mp3.iter().copied().cycle().take(64 * 1024).collect();
    let (audio, titles) = read(true).await;
    assert!(audio == looped, "ICY blocks are taken out of the audio");
    assert!(titles > 0, "titles come as marks");
    let asked: Vec<_> = server.requests().iter().map(|r| r.icy_metaint).collect();
    assert_eq!(asked.last(), Some(&Some(8192)), "{asked:?}");
    server.clear_log();
    let (audio, titles) = read(false).await;
    assert!(audio == looped);
    assert_eq!(titles, 0);
    let asked: Vec<_> = server.requests().iter().map(|r| r.icy_metaint).collect();
    assert!(asked.iter().all(Option::is_none), "{asked:?}");
}

/// A ring asked to keep nothing behind its reader still keeps what the decoder's probe rewinds
/// over: the station decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_radio_ring_keeping_nothing_behind_still_decodes() {
    use kithara_file::{RadioConfig, RingSize};
    use kithara_test_support::Radio;

    let server = media_server();
    let mp3 = kithara_test_support::media::get("chirp.mp3").unwrap().bytes;
    server.route(
        "/live",
        Route::radio(Radio::new(mp3).metaint(16_000)).content_type("audio/mpeg"),
    );
    let dl = downloader();
    let radio = RadioConfig::builder()
        .ring(RingSize::Bytes(0))
        .keep_behind(RingSize::Bytes(0))
        .build();
    let options = OpenOptions::builder()
        .downloader(dl.clone())
        .radio(radio)
        .build();
    let mut decoder = open_decoder(server.url("/live"), options).await.unwrap();
    let frames = tokio::task::spawn_blocking(move || {
        let mut frames = 0;
        while frames < 10 * 44_100 {
            let chunk = decoder.next_chunk().unwrap().unwrap();
            frames += chunk.frames();
        }
        frames
    })
    .await
    .unwrap();
    assert!(frames >= 10 * 44_100);
}
