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
    [
        (n >> 21) & 0x7F,
        (n >> 14) & 0x7F,
        (n >> 7) & 0x7F,
        n & 0x7F,
    ]
    .map(|b| b as u8)
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

/// Decodes to the end: each title with the media time it takes effect at. Checks that the audio
/// is whole (the tags and streams added change nothing of it).
fn decode_titles(d: &mut Decoder<Hls>) -> Vec<(Duration, String)> {
    let mut seen = Vec::new();
    let mut frames = 0;
    while let Some(c) = d.next_chunk().unwrap() {
        frames += c.frames();
        for np in &c.now_playing {
            let at = c.time
                + Duration::from_nanos(np.offset as u64 * 1_000_000_000 / u64::from(c.sample_rate));
            seen.push((at, np.now_playing.title.clone().unwrap_or_default()));
        }
    }
    assert_eq!(frames, 481_280, "30.08 s at 16 kHz");
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
        let mut seg = if i % 4 == 0 {
            id3_timed(pts, &title)
        } else {
            id3_timed(pts, "")
        };
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
        env.server.route(
            &format!("/id3/{name}"),
            Route::new(seg).content_type("audio/aac"),
        );
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
        assert!(
            at.abs_diff(*want_at) < Duration::from_micros(100),
            "{t}: {at:?}, not {want_at:?}"
        );
    }
}

/// CRC-32/MPEG-2 of a PSI section.
fn crc32_mpeg(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

const ID3_PID: u16 = 0x1F0;

fn pid(p: &[u8]) -> u16 {
    u16::from(p[1] & 0x1F) << 8 | u16::from(p[2])
}

fn payload(p: &[u8]) -> &[u8] {
    match (p[3] >> 4) & 3 {
        1 => &p[4..],
        3 => &p[5 + usize::from(p[4])..],
        _ => &[],
    }
}

fn pes_pts(pl: &[u8]) -> u64 {
    let b = &pl[9..14];
    (u64::from(b[0] >> 1) & 7) << 30
        | u64::from(b[1]) << 22
        | (u64::from(b[2]) >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4]) >> 1
}

/// `seg` (a TS segment with PAT, PMT and one audio stream) with a timed-metadata stream (type
/// 0x15) in its PMT and one ID3 PES carrying `tag`, `after` the segment's first audio PTS.
fn with_ts_id3(seg: &[u8], after: Duration, tag: &[u8]) -> Vec<u8> {
    let pmt_pid = seg
        .chunks(188)
        .find(|p| pid(p) == 0)
        .map(|p| {
            let pl = payload(p);
            let s = &pl[1 + usize::from(pl[0])..];
            u16::from(s[10] & 0x1F) << 8 | u16::from(s[11])
        })
        .unwrap();
    let audio_pts = seg
        .chunks(188)
        .find(|p| p[1] & 0x40 != 0 && payload(p).starts_with(&[0, 0, 1]))
        .map(|p| pes_pts(payload(p)))
        .unwrap();
    let pts = audio_pts + (after.as_micros() as u64 * 9 / 100);
    let mut out = Vec::new();
    for p in seg.chunks(188) {
        if pid(p) != pmt_pid {
            out.extend_from_slice(p);
            continue;
        }
        // The PMT section with one more elementary stream, its CRC recomputed.
        let pl = payload(p);
        let s = &pl[1 + usize::from(pl[0])..];
        let len = usize::from(s[1] & 0x0F) << 8 | usize::from(s[2]);
        let mut section = s[..3 + len - 4].to_vec();
        section.extend([0x15, 0xE0 | (ID3_PID >> 8) as u8, ID3_PID as u8, 0xF0, 0x00]);
        let new_len = section.len() + 4 - 3;
        section[1] = (section[1] & 0xF0) | (new_len >> 8) as u8;
        section[2] = new_len as u8;
        let crc = crc32_mpeg(&section);
        section.extend(crc.to_be_bytes());
        let mut pkt = p[..4].to_vec();
        pkt[3] = (pkt[3] & 0xCF) | 0x10;
        pkt.push(0);
        pkt.extend(&section);
        pkt.resize(188, 0xFF);
        out.extend(pkt);
        // Then the ID3 PES, in one packet (stuffed with an adaptation field).
        let mut pes = vec![0, 0, 1, 0xBD, 0, 0, 0x80, 0x80, 5];
        pes.extend([
            0x21 | ((pts >> 29) & 0x0E) as u8,
            (pts >> 22) as u8,
            0x01 | ((pts >> 14) & 0xFE) as u8,
            (pts >> 7) as u8,
            0x01 | ((pts << 1) & 0xFE) as u8,
        ]);
        pes.extend(tag);
        assert!(pes.len() <= 182);
        let fill = 184 - pes.len() - 1;
        let mut pkt = vec![
            0x47,
            0x40 | (ID3_PID >> 8) as u8,
            ID3_PID as u8,
            0x30,
            fill as u8,
        ];
        if fill > 0 {
            pkt.push(0);
            pkt.extend(std::iter::repeat_n(0xFF, fill - 1));
        }
        pkt.extend(pes);
        out.extend(pkt);
    }
    out
}

/// The bundled TS variant 0's playlist and segments.
fn ts_v0() -> (String, Vec<(String, f64)>) {
    let text = String::from_utf8(media::get("hls/ts/v0.m3u8").unwrap().bytes.to_vec()).unwrap();
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

#[test]
fn id3_in_a_ts_timed_metadata_stream_comes_at_its_pts() {
    let env = Env::new();
    let (text, segs) = ts_v0();
    let mut start = 0.0f64;
    let mut expect = Vec::new();
    let mut total = 0usize;
    for (i, (name, dur)) in segs.iter().enumerate() {
        let body = media::get(&format!("hls/ts/{name}")).unwrap().bytes;
        let seg = if i % 3 == 1 {
            let title = format!("ts {i}");
            expect.push((Duration::from_secs_f64(start + 0.5), title.clone()));
            with_ts_id3(body, Duration::from_millis(500), &id3_timed(0, &title))
        } else {
            body.to_vec()
        };
        env.server.route(
            &format!("/tsid3/{name}"),
            Route::new(seg).content_type("video/mp2t"),
        );
        start += dur;
    }
    env.server.route(
        "/tsid3/v0.m3u8",
        Route::new(text).content_type("application/vnd.apple.mpegurl"),
    );
    let mut d = open(&env, "/tsid3/v0.m3u8");
    let mut seen = Vec::new();
    while let Some(c) = d.next_chunk().unwrap() {
        total += c.frames();
        for np in &c.now_playing {
            let at = c.time
                + Duration::from_nanos(np.offset as u64 * 1_000_000_000 / u64::from(c.sample_rate));
            seen.push((at, np.now_playing.title.clone().unwrap_or_default()));
        }
    }
    // The audio is untouched by the extra stream.
    assert_eq!(total, 481_280);
    assert_eq!(seen.len(), expect.len(), "{seen:?}");
    for ((at, t), (want_at, want_t)) in seen.iter().zip(&expect) {
        assert_eq!(t, want_t);
        assert!(
            at.abs_diff(*want_at) < Duration::from_micros(100),
            "{t}: {at:?}, not {want_at:?}"
        );
    }
}

#[test]
fn date_ranges_come_at_their_start_date_on_the_timeline() {
    let env = Env::new();
    let (text, _) = ts_v0();
    // Dates from the first segment on; one range names a title and an artist, one only a
    // title, an interstitial names neither (not a title change).
    let mut out = String::new();
    let mut n = 0;
    for line in text.lines() {
        if line.starts_with("#EXTINF") {
            match n {
                0 => out.push_str("#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:00.000Z\n"),
                2 => out.push_str(
                    "#EXT-X-DATERANGE:ID=\"a\",START-DATE=\"2026-12-06T10:00:05.250Z\",X-TITLE=\"five\",X-ARTIST=\"kithara\"\n",
                ),
                5 => out.push_str(
                    "#EXT-X-DATERANGE:ID=\"ad\",CLASS=\"com.apple.hls.interstitial\",START-DATE=\"2026-12-06T10:00:11.000Z\",X-ASSET-URI=\"ad.m3u8\"\n",
                ),
                7 => out.push_str(
                    "#EXT-X-DATERANGE:ID=\"b\",START-DATE=\"2026-12-06T10:00:20.000Z\",X-COM-EXAMPLE-TITLE=\"twenty\"\n",
                ),
                _ => {}
            }
            n += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    // Beside the bundled segments, so their relative URIs resolve.
    env.server.route(
        "/media/hls/ts/dates.m3u8",
        Route::new(out).content_type("application/vnd.apple.mpegurl"),
    );
    let mut d = open(&env, "/media/hls/ts/dates.m3u8");
    let seen = decode_titles(&mut d);
    let want = [
        (Duration::from_millis(5250), "five"),
        (Duration::from_secs(20), "twenty"),
    ];
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((at, t), (want_at, want_t)) in seen.iter().zip(want) {
        assert_eq!(t, want_t);
        assert!(
            at.abs_diff(want_at) < Duration::from_micros(100),
            "{t}: {at:?}"
        );
    }
}
