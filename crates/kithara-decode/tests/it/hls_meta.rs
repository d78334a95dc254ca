//! HLS timed metadata as now-playing: ID3 tags at the head of packed-audio (ADTS) segments with
//! their `transportStreamTimestamp`, an ID3 timed-metadata stream in MPEG-TS segments, and
//! `EXT-X-DATERANGE` tags mapped through `EXT-X-PROGRAM-DATE-TIME`; each reported on the chunk at
//! its media time. The variants are the bundled variant 0, changed in memory.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{AbrMode, Stream};
use kithara_test_support::{media, Route};

use crate::common::Env;

/// An ID3v2.4 tag with a PRIV timestamp (90 kHz) and a title.
pub fn id3_timed(pts: u64, title: &str) -> Vec<u8> {
    let mut frames = Vec::new();
    let mut frame = |id: &[u8; 4], body: &[u8]| {
        frames.extend_from_slice(id);
        frames.extend(syncsafe(body.len()));
        frames.extend([0, 0]);
        frames.extend_from_slice(body);
    };
    let mut priv_ = b"com.apple.streaming.transportStreamTimestamp\0".to_vec();
    priv_.extend(pts.to_be_bytes());
    frame(b"PRIV", &priv_);
    let mut tit2 = vec![3u8];
    tit2.extend(title.as_bytes());
    frame(b"TIT2", &tit2);
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend(syncsafe(frames.len()));
    tag.extend(frames);
    tag
}

fn syncsafe(n: usize) -> [u8; 4] {
    let n = u32::try_from(n).unwrap();
    [(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F].map(|b| b as u8)
}

/// The bundled ADTS variant 0's playlist and segment names.
fn adts_v0() -> (String, Vec<(String, f64)>) {
    let text = String::from_utf8(media::get("hls/adts/v0.m3u8").unwrap().bytes.to_vec()).unwrap();
    let mut segs = Vec::new();
    let mut dur = 0.0;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.trim_end_matches(',').parse().unwrap();
        } else if !line.starts_with('#') && !line.is_empty() {
            segs.push((line.to_owned(), dur));
        }
    }
    (text, segs)
}

fn decode_titles(d: &mut Decoder<Hls>) -> Vec<(Duration, String)> {
    let mut seen = Vec::new();
    while let Some(c) = d.next_chunk().unwrap() {
        for np in &c.now_playing {
            let at = c.time
                + Duration::from_nanos(np.offset as u64 * 1_000_000_000 / u64::from(c.sample_rate));
            seen.push((at, np.now_playing.title.clone().unwrap_or_default()));
        }
    }
    seen
}

fn open(env: &Env, path: &str) -> Decoder<Hls> {
    let config = HlsConfig::builder()
        .url(env.server.url(path))
        .downloader(env.dl.clone())
        .abr_mode(AbrMode::Fixed(0))
        .build();
    let stream = env.rt.block_on(Stream::<Hls>::new(config)).unwrap();
    Decoder::new(stream, DecoderConfig::default()).unwrap()
}

#[test]
fn id3_tags_at_the_head_of_packed_audio_segments_come_at_their_times() {
    let env = Env::new();
    let (text, segs) = adts_v0();
    let mut start = 0.0f64;
    let mut expect = Vec::new();
    for (i, (name, dur)) in segs.iter().enumerate() {
        let body = media::get(&format!("hls/adts/{name}")).unwrap().bytes;
        // A stream whose timestamps start at 10 s: the playlist's time 0.
        let pts = 900_000 + (start * 90_000.0).round() as u64;
        let title = format!("segment {i}");
        let mut seg = if i % 4 == 0 { id3_timed(pts, &title) } else { id3_timed(pts, "") };
        if i % 4 == 0 {
            expect.push((Duration::from_secs_f64(start), title));
        } else {
            // A tag without a title (a timestamp only) changes nothing.
            seg = {
                let mut t = b"ID3\x04\x00\x00".to_vec();
                let mut priv_ = b"PRIV".to_vec();
                let mut body = b"com.apple.streaming.transportStreamTimestamp\0".to_vec();
                body.extend(pts.to_be_bytes());
                priv_.extend(syncsafe(body.len()));
                priv_.extend([0, 0]);
                priv_.extend(body);
                t.extend(syncsafe(priv_.len()));
                t.extend(priv_);
                t
            };
        }
        seg.extend_from_slice(body);
        env.server.route(&format!("/id3/{name}"), Route::new(seg).content_type("audio/aac"));
        start += dur;
    }
    env.server.route(
        "/id3/v0.m3u8",
        Route::new(text).content_type("application/vnd.apple.mpegurl"),
    );
    let mut d = open(&env, "/id3/v0.m3u8");
    let seen = decode_titles(&mut d);
    assert_eq!(seen.len(), expect.len(), "{seen:?}");
    for ((at, t), (want_at, want_t)) in seen.iter().zip(&expect) {
        assert_eq!(t, want_t);
        assert!(at.abs_diff(*want_at) < Duration::from_micros(100), "{t}: {at:?}, not {want_at:?}");
    }
}
