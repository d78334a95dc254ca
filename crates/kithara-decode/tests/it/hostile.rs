//! Hostile media: every bundled format with random bytes flipped, and cut at random points, is
//! served over loopback and decoded to its end. The decoder never panics and never hangs: it
//! yields audio and ends, or ends with an error.

use kithara_decode::{Decoder, DecoderConfig};
use kithara_stream::RedactedUrl;
use kithara_test_support::{media, Route};
use proptest::prelude::*;

use crate::common::{Env, FORMATS};

/// Decodes what `/h/{name}` serves to its end (or its first error); a decoder that cannot even
/// open is fine too. Returns the frames decoded.
fn decode_served(env: &Env, name: &str, body: Vec<u8>) -> usize {
    let path = format!("/h/{name}");
    env.server.route(&path, Route::new(body));
    let Ok(stream) = env.open_with(&path, |_| {}) else {
        return 0;
    };
    let origin = RedactedUrl::new(&env.server.url(&path));
    let Ok(mut d) = Decoder::new(stream, DecoderConfig::builder().origin(origin).build()) else {
        return 0;
    };
    let mut frames = 0;
    // Bounded: a decoder that kept yielding would be a hang too.
    for _ in 0..100_000 {
        match d.next_chunk() {
            Ok(Some(c)) => frames += c.frames(),
            Ok(None) | Err(_) => return frames,
        }
    }
    panic!("{name}: the decoder never ended");
}

fn fixture(i: usize) -> (&'static str, &'static [u8]) {
    let name = FORMATS[i % FORMATS.len()];
    (name, media::get(name).unwrap().bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn flipped_bytes_never_panic_or_hang(
        which in 0..FORMATS.len(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..24),
    ) {
        let env = Env::new();
        let (name, bytes) = fixture(which);
        let mut body = bytes.to_vec();
        for (at, x) in flips {
            let i = at.index(body.len());
            body[i] ^= x;
        }
        decode_served(&env, name, body);
    }

    #[test]
    fn truncated_files_never_panic_or_hang(
        which in 0..FORMATS.len(),
        keep in any::<prop::sample::Index>(),
    ) {
        let env = Env::new();
        let (name, bytes) = fixture(which);
        let cut = keep.index(bytes.len());
        decode_served(&env, name, bytes[..cut].to_vec());
    }
}

/// Flipping bytes in the header region, where parsers read lengths and counts, of every format.
#[test]
fn every_header_byte_flipped_in_turn() {
    let env = Env::new();
    for name in FORMATS {
        let bytes = media::get(name).unwrap().bytes;
        for i in (0..bytes.len().min(512)).step_by(7) {
            let mut body = bytes.to_vec();
            body[i] ^= 0xFF;
            decode_served(&env, name, body);
        }
    }
}

/// A body of noise with no length (a server that sends forever, as far as the client knows): the
/// decoder refuses it with a typed error instead of reading on.
#[test]
fn endless_noise_is_refused() {
    let env = Env::new();
    let noise = kithara_test_support::payload(32 << 20, 99);
    env.server.route(
        "/noise",
        Route::new(noise).unknown_total().content_type("audio/mpeg"),
    );
    let stream = env.open_with("/noise", |_| {}).unwrap();
    let origin = RedactedUrl::new(&env.server.url("/noise"));
    match Decoder::new(stream, DecoderConfig::builder().origin(origin).build()) {
        Err(kithara_decode::Error::UnknownFormat { .. }) => {}
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("noise accepted as audio"),
    }
}
