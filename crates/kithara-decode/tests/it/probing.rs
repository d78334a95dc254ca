//! Probing and decoding the start of a long MP3 fetches little and never the tail, although the
//! file ends in an ID3v1 tag that symphonia's probe would seek to on a seekable source.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig};
use kithara_test_support::{media, Route};

use crate::common::Env;

const MIB: u64 = 1 << 20;

/// Length of the MPEG audio frame whose header starts `h` (layer III, MPEG-1/2/2.5).
fn frame_len(h: &[u8]) -> usize {
    assert!(h[0] == 0xFF && h[1] & 0xE0 == 0xE0, "not a frame header");
    let mpeg1 = (h[1] >> 3) & 3 == 3;
    let v1 = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    let v2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let idx = usize::from(h[2] >> 4);
    let kbps = if mpeg1 { v1[idx] } else { v2[idx] };
    let rates = match (h[1] >> 3) & 3 {
        3 => [44_100, 48_000, 32_000],
        2 => [22_050, 24_000, 16_000],
        _ => [11_025, 12_000, 8_000],
    };
    let rate = rates[usize::from((h[2] >> 2) & 3)];
    let pad = usize::from((h[2] >> 1) & 1);
    (if mpeg1 { 144 } else { 72 }) * kbps * 1000 / rate + pad
}

/// ~10 MiB: the fixture's ID3v2 tag, its audio frames (the Info frame left out, so nothing declares
/// a length) repeated, then a 128-byte ID3v1 tag.
fn long_mp3() -> Vec<u8> {
    let src = media::get("chirp.mp3").unwrap().bytes;
    let id3 = 10
        + (usize::from(src[6]) << 21
            | usize::from(src[7]) << 14
            | usize::from(src[8]) << 7
            | usize::from(src[9]));
    let info = frame_len(&src[id3..]);
    let mut frames = Vec::new();
    let mut at = id3 + info;
    while at + 4 <= src.len() {
        let n = frame_len(&src[at..]);
        if at + n > src.len() {
            break;
        }
        frames.push(&src[at..at + n]);
        at += n;
    }
    let mut out = src[..id3].to_vec();
    'fill: loop {
        for f in &frames {
            if out.len() as u64 + f.len() as u64 > 10 * MIB - 128 {
                break 'fill;
            }
            out.extend_from_slice(f);
        }
    }
    let mut tag = [b' '; 128];
    tag[..3].copy_from_slice(b"TAG");
    tag[3..13].copy_from_slice(b"chirp long");
    out.extend_from_slice(&tag);
    out
}

#[test]
fn first_5_s_of_a_10_mib_mp3_fetch_under_1_mib_and_never_the_tail() {
    let env = Env::new();
    let body = long_mp3();
    let len = body.len() as u64;
    assert!(len > 10 * MIB - 4096);
    env.server
        .route("/long.mp3", Route::new(body).content_type("audio/mpeg"));
    let stream = env
        .open_with("/long.mp3", |c| c.buffer_ahead = Some(256 * 1024))
        .unwrap();
    let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
    assert_eq!(d.info().sample_rate, 22_050);
    assert_eq!(d.info().duration, None, "nothing declares the length");
    let mut frames = 0;
    while d.position() < Duration::from_secs(5) {
        frames += d.next_chunk().unwrap().unwrap().frames();
    }
    assert!(frames >= 5 * 22_050);
    drop(d); // cancels the download
    assert!(env
        .server
        .wait_until(Duration::from_secs(10), |_, s| s.responses_in_flight == 0));
    let requests = env.server.requests();
    let fetched: u64 = requests.iter().map(|r| r.bytes_sent).sum();
    assert!(fetched < MIB, "fetched {fetched} bytes in {requests:#?}");
    for r in &requests {
        assert!(
            r.body_start + r.bytes_sent <= len - 128,
            "a request reached the tail: {r:?}"
        );
        assert!(r.body_start < MIB, "a request started far ahead: {r:?}");
    }
}

/// A wrong hint (here a FLAC file served as `audio/mpeg` under an `.mp3` name) does not stop
/// decoding: the content is probed instead, from byte 0.
#[test]
fn mislabelled_content_is_probed() {
    let env = Env::new();
    let flac = media::get("chirp.flac").unwrap().bytes;
    env.server
        .route("/song.mp3", Route::new(flac).content_type("audio/mpeg"));
    let mut d = env.remote_path("/song.mp3").unwrap();
    assert_eq!(
        d.info().container,
        Some(kithara_stream::ContainerFormat::Flac)
    );
    let (pcm, err) = crate::common::decode_all(&mut d);
    assert!(err.is_none(), "{err:?}");
    let (reference, _) = crate::common::decode_all(&mut env.remote("chirp.flac"));
    assert!(pcm == reference);
}
