//! Typed errors that name the redacted URL and what was found.

use kithara_decode::Error;
use kithara_test_support::{media, Route};

use crate::common::{decode_all, Env};

/// Opens `path?token=secret` and checks the error names the URL without its query.
fn open_err(env: &Env, path: &str) -> Error {
    let err = env
        .remote_path(&format!("{path}?token=secret"))
        .unwrap_err();
    check_names_url(env, path, &err);
    err
}

fn check_names_url(env: &Env, path: &str, err: &Error) {
    let msg = err.to_string();
    assert!(msg.contains(env.server.url(path).as_str()), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
}

#[test]
fn html_page() {
    let env = Env::new();
    let html = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>please log in</body></html>";
    env.server
        .route("/song.mp3", Route::new(html).content_type("text/html"));
    let err = open_err(&env, "/song.mp3");
    assert!(
        matches!(&err, Error::HtmlPage { found, .. } if found.starts_with("<!DOCTYPE html>")),
        "{err:?}"
    );
}

#[test]
fn empty_file() {
    let env = Env::new();
    env.server.route(
        "/empty.flac",
        Route::new(Vec::new()).content_type("audio/flac"),
    );
    let err = open_err(&env, "/empty.flac");
    assert!(matches!(err, Error::Empty { .. }), "{err:?}");
}

/// Without the `opus` feature, Opus is a codec this build cannot decode, and the error names the
/// feature that would (with it, `codecs::opus` decodes the same file).
#[cfg(not(feature = "opus"))]
#[test]
fn unsupported_codec() {
    let env = Env::new();
    let err = open_err(&env, "/media/chirp.opus");
    assert!(
        matches!(&err, Error::CodecFeatureOff { codec, feature: "opus", .. } if codec == "Opus"),
        "{err:?}"
    );
    assert!(err.is_unsupported());
    assert_eq!(err.missing_feature(), Some("opus"));
    assert_eq!(err.class(), kithara_stream::ErrorClass::Unsupported);
    let message = err.to_string();
    assert!(
        message.contains("unsupported codec Opus in Ogg")
            && message.contains("the `opus` feature of kithara-decode"),
        "{message}"
    );
}

#[test]
fn garbage_is_an_unknown_format() {
    let env = Env::new();
    env.server.route(
        "/noise",
        Route::new(kithara_test_support::payload(64 * 1024, 7)),
    );
    let err = open_err(&env, "/noise");
    assert!(err.is_unsupported(), "{err:?}");
}

/// A truncated file yields all its decodable audio, then the error.
#[test]
fn truncated_files_yield_their_audio_then_the_error() {
    let env = Env::new();
    for name in [
        "chirp.mp3",
        "chirp.flac",
        "chirp.wav",
        "chirp.m4a",
        "chirp-faststart.m4a",
        "chirp.ogg",
        "chirp.ts",
    ] {
        let full = media::get(name).unwrap();
        let cut = full.bytes.len() * 6 / 10;
        let path = format!("/cut/{name}");
        env.server.route(
            &path,
            Route::new(&full.bytes[..cut]).content_type(full.content_type),
        );
        let mut whole = env.remote(name);
        let (reference, _) = decode_all(&mut whole);
        let opened = env.remote_path(&format!("{path}?token=secret"));
        let mut d = match opened {
            Ok(d) => d,
            // moov at the end: nothing is decodable without it.
            Err(e) => {
                assert!(name == "chirp.m4a", "{name}: {e:?}");
                check_names_url(&env, &path, &e);
                continue;
            }
        };
        let (pcm, err) = decode_all(&mut d);
        let err = err.unwrap_or_else(|| panic!("{name}: no error after {} samples", pcm.len()));
        assert!(err.is_truncated(), "{name}: {err:?}");
        check_names_url(&env, &path, &err);
        // The audio before the cut came out, identical to the whole file's. symphonia's Ogg reader
        // stops at the last page it can complete a packet from, about 1 s of the 2.4 s here.
        let least = if name == "chirp.ogg" { 0.2 } else { 0.5 };
        assert!(
            pcm.len() as f64 > reference.len() as f64 * least,
            "{name}: only {} of {} samples",
            pcm.len(),
            reference.len()
        );
        assert!(
            pcm[..] == reference[..pcm.len()],
            "{name}: truncated PCM differs"
        );
    }
}
