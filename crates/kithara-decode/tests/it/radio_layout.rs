//! What the radio acceptance (`radio.rs`) expects, derived from the fixtures themselves and the
//! station's wire format, never from what the code under test reports: each fixture's own clean
//! decode, where its audio packets lie in its bytes, the frames its decoder trims at its start,
//! and where a station's resets cut the audio.

use std::ops::Range;

use kithara_test_support::{Radio, Route};

use crate::common::{decode_all, Env};

/// A fixture a station loops: its bytes, its clean decode and its byte→time layout.
pub struct Fixture {
    pub name: &'static str,
    pub payload: Vec<u8>,
    pub content_type: &'static str,
    /// The fixture decoded alone from its own route (gapless trimming on, the default).
    pub pcm: Vec<f32>,
    pub channels: usize,
    pub rate: u32,
    /// Frames of one codec frame (MP3 at 22.05 kHz: 576; AAC: 1024).
    pub frame_len: u64,
    /// The byte range of each audio packet, in order (the tag and the info frame hold none).
    pub packets: Vec<Range<u64>>,
    /// Frames the clean decode trims before the first packet's output (encoder and decoder
    /// delay): the clean PCM is the untrimmed decode from this frame on.
    pub delay: u64,
}

impl Fixture {
    /// The MP3 fixture with an ID3v2 tag naming its title, then its Xing/Info (LAME) frame.
    pub fn mp3(env: &Env) -> Fixture {
        let payload = crate::nowplaying::tagged_mp3("kit radio");
        let packets = mp3_packets(&payload);
        // What the LAME tag declares, moved by the decoder's own delay (529 frames of MP3's
        // synthesis filter): trimmed at the start and given back at the end.
        let (delay, padding) = lame_delay_padding(&payload);
        let trims = (delay + 529, padding.saturating_sub(529));
        Fixture::new(env, "mp3", payload, "audio/mpeg", 576, (packets, trims))
    }

    /// The ADTS AAC fixture.
    pub fn aac(env: &Env) -> Fixture {
        let payload = std::fs::read(crate::common::media_path("chirp.aac")).unwrap();
        let packets = adts_packets(&payload);
        Fixture::new(env, "aac", payload, "audio/aac", 1024, (packets, (0, 0)))
    }

    fn new(
        env: &Env,
        name: &'static str,
        payload: Vec<u8>,
        content_type: &'static str,
        frame_len: u64,
        (packets, (delay, end_trim)): (Vec<Range<u64>>, (u64, u64)),
    ) -> Fixture {
        let path = format!("/clean-{name}");
        env.server.route(
            &path,
            Route::new(payload.clone()).content_type(content_type),
        );
        let mut d = env.remote_path(&path).unwrap();
        let (channels, rate) = (usize::from(d.info().channels), d.info().sample_rate);
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{name}: {err:?}");
        let loop_frames = (pcm.len() / channels) as u64;
        let decoded = packets.len() as u64 * frame_len;
        assert_eq!(
            loop_frames,
            decoded - delay - end_trim,
            "{name}: the clean decode is every packet's frames less what the file declares"
        );
        Fixture {
            name,
            payload,
            content_type,
            pcm,
            channels,
            rate,
            frame_len,
            packets,
            delay,
        }
    }

    /// Frames of one loop (the clean decode).
    pub fn loop_frames(&self) -> u64 {
        (self.pcm.len() / self.channels) as u64
    }

    /// Frames of `secs` seconds.
    pub fn frames_of(&self, secs: u64) -> u64 {
        secs * u64::from(self.rate)
    }

    /// The frame, on the timeline of the fixture looped from byte 0, at which the packet that
    /// holds audio byte `b` starts: a byte of the tag or the info frame belongs to the first
    /// packet, a packet whose audio the start trim removes starts at its loop's frame 0, and a
    /// packet past the loop's trimmed end at the next loop's.
    pub fn frame_of_byte(&self, b: u64) -> u64 {
        let len = self.payload.len() as u64;
        let (k, r) = (b / len, b % len);
        let next = (k + 1) * self.loop_frames();
        let Some(j) = self.packets.iter().position(|p| r < p.end) else {
            return next;
        };
        let start = (j as u64 * self.frame_len).saturating_sub(self.delay);
        if start >= self.loop_frames() {
            next
        } else {
            k * self.loop_frames() + start
        }
    }

    /// The audio byte of the looped fixture at which `frames` frames of media end (the first
    /// byte of the packet heard at that frame).
    pub fn byte_of_frame(&self, frames: u64) -> u64 {
        let len = self.payload.len() as u64;
        let (k, f) = (frames / self.loop_frames(), frames % self.loop_frames());
        let j = usize::try_from((f + self.delay) / self.frame_len).unwrap();
        k * len + self.packets[j].start
    }
}

/// The audio packets of an MP3 file: every frame after its ID3v2 tag except the info frame.
fn mp3_packets(b: &[u8]) -> Vec<Range<u64>> {
    assert_eq!(&b[..3], b"ID3");
    let tag = b[6..10]
        .iter()
        .fold(0usize, |a, &x| (a << 7) | usize::from(x));
    let mut pos = 10 + tag;
    let mut out = Vec::new();
    while pos + 4 <= b.len() && b[pos] == 0xFF && b[pos + 1] & 0xE0 == 0xE0 {
        let mpeg1 = (b[pos + 1] >> 3) & 3 == 3;
        assert_eq!((b[pos + 1] >> 1) & 3, 1, "layer III");
        let kbps = if mpeg1 {
            [
                0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ]
        } else {
            [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
        }[usize::from(b[pos + 2] >> 4)];
        let rate = match ((b[pos + 1] >> 3) & 3, (b[pos + 2] >> 2) & 3) {
            (3, i) => [44_100, 48_000, 32_000][usize::from(i)],
            (2, i) => [22_050, 24_000, 16_000][usize::from(i)],
            (_, i) => [11_025, 12_000, 8_000][usize::from(i)],
        };
        let pad = usize::from((b[pos + 2] >> 1) & 1);
        let size = if mpeg1 { 144_000 } else { 72_000 } * kbps / rate + pad;
        let head = &b[pos..(pos + 48).min(b.len())];
        let info = head.windows(4).any(|w| w == b"Xing" || w == b"Info");
        if !(info && out.is_empty()) {
            out.push(pos as u64..(pos + size) as u64);
        }
        pos += size;
    }
    assert_eq!(pos, b.len(), "frames to the end of the file");
    out
}

/// The encoder delay and padding an MP3's LAME tag declares (0, 0 for other files).
fn lame_delay_padding(b: &[u8]) -> (u64, u64) {
    let Some(info) = b.windows(4).position(|w| w == b"Info" || w == b"Xing") else {
        return (0, 0);
    };
    // The LAME extension follows the 120 bytes of the Xing/Info header; delay and padding are
    // 12 bits each at its byte 21.
    let d = &b[info + 120 + 21..info + 120 + 24];
    let delay = (u64::from(d[0]) << 4) | u64::from(d[1] >> 4);
    let padding = (u64::from(d[1] & 0x0F) << 8) | u64::from(d[2]);
    (delay, padding)
}

/// The frames of an ADTS stream.
fn adts_packets(b: &[u8]) -> Vec<Range<u64>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos + 7 <= b.len() {
        assert!(
            b[pos] == 0xFF && b[pos + 1] & 0xF0 == 0xF0,
            "ADTS sync at {pos}"
        );
        let size = (usize::from(b[pos + 3] & 3) << 11)
            | (usize::from(b[pos + 4]) << 3)
            | usize::from(b[pos + 5] >> 5);
        out.push(pos as u64..(pos + size) as u64);
        pos += size;
    }
    assert_eq!(pos, b.len());
    out
}

/// Wire bytes that carry the first `audio` audio bytes of one connection of `radio` (looping
/// `len` bytes, blocks every `metaint`; a connection starts at the payload's first byte with no
/// title sent yet): the audio, and every block before its last byte.
pub fn wire_bytes(radio: &Radio, len: u64, metaint: u64, audio: u64) -> u64 {
    let titled: Vec<u64> = radio.titles(audio).into_iter().map(|(at, _)| at).collect();
    let mut wire = audio;
    let mut at = metaint;
    while at < audio {
        wire += if titled.contains(&at) {
            let text = format!("StreamTitle='{}';", radio.title(at / len + 1));
            1 + text.len().div_ceil(16) as u64 * 16
        } else {
            1
        };
        at += metaint;
    }
    wire
}
