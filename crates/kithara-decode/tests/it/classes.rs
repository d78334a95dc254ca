//! One flat classification through every layer, over loopback: a 404, a refused connection, a
//! failed key (at open) and a body that is not audio.

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{File, FileConfig};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{ErrorClass, Stream};
use kithara_test_support::Route;

use crate::common::{impatient, Env};

#[test]
fn a_missing_file_is_not_found() {
    let env = Env::new();
    let err = env.open_with("/media/nope.mp3", |_| {}).unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound, "{err}");
    // The same through the io::Error a read would carry.
    let io: std::io::Error = err.into();
    assert_eq!(ErrorClass::of(&io), ErrorClass::NotFound);
}

#[test]
fn a_refused_connection_is_a_network_failure() {
    let env = Env::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let url = format!("http://127.0.0.1:{port}/song.mp3").parse().unwrap();
    let config = FileConfig::remote(url, impatient(&env.rt)).build();
    let err = env.rt.block_on(Stream::<File>::new(config)).unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_eq!(err.class(), ErrorClass::Network, "{err}");
}

#[test]
fn an_unreachable_key_fails_the_open_as_a_key_failure() {
    let env = Env::new();
    env.server
        .route("/media/hls/aes/v0.key", Route::new(Vec::new()).status(404));
    let url = env.server.url("/media/hls/aes/v0.m3u8");
    let config = HlsConfig::builder()
        .url(url)
        .downloader(env.dl.clone())
        .build();
    let err = env.rt.block_on(Stream::<Hls>::new(config)).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Key, "{err}");
    assert!(
        err.to_string().contains("v0.key could not be fetched"),
        "{err}"
    );
    match kithara_hls::Error::find(&err) {
        Some(kithara_hls::Error::KeyFetch { source, .. }) => {
            assert_eq!(source.class(), ErrorClass::NotFound);
        }
        other => panic!("{other:?}"),
    }
    let segments = env
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(".ts"))
        .count();
    assert_eq!(
        segments, 0,
        "the open failed before any segment was asked for"
    );
}

#[test]
fn a_body_that_is_not_audio_is_unsupported() {
    let env = Env::new();
    let noise: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    env.server.route("/noise.bin", Route::new(noise));
    let stream = env.open_with("/noise.bin", |_| {}).unwrap();
    let err = Decoder::new(stream, DecoderConfig::default()).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported, "{err}");
    assert!(err.is_unsupported());
}
