//! AAC in MP4/M4A: the encoder delay and length the container declares are trimmed (symphonia
//! leaves them in). The bundled M4A files declare no delay (they were remuxed from ADTS); the
//! files here are those with the edit list ffmpeg writes when it encodes an M4A itself: 1024
//! frames of priming, then the 4 s (88 200 frames) of the source.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::File;
use kithara_test_support::{
    pcm::{compare, reference},
    Route,
};

use crate::common::{decode_all, media_path, read_frames, Env};

const PRIMING: usize = 1024;
const SOURCE_FRAMES: usize = 88_200;

/// `name` with its edit list declaring `delay` frames of priming and `ms` milliseconds of audio.
fn with_edit_list(name: &str, delay: u32, ms: u32) -> Vec<u8> {
    let mut d = std::fs::read(media_path(name)).unwrap();
    let at = d.windows(4).position(|w| w == b"elst").unwrap();
    // version/flags, one entry: segment_duration (movie timescale: ms), media_time, rate.
    assert_eq!(&d[at + 4..at + 12], &[0, 0, 0, 0, 0, 0, 0, 1]);
    d[at + 12..at + 16].copy_from_slice(&ms.to_be_bytes());
    d[at + 16..at + 20].copy_from_slice(&delay.to_be_bytes());
    d
}

/// chirp.m4a (`moov` last, `ilst` its last box) with an iTunes `iTunSMPB` tag declaring the
/// priming, padding and length, and no edit list (its `edts` box renamed `free`).
fn with_itunsmpb() -> Vec<u8> {
    let mut d = std::fs::read(media_path("chirp.m4a")).unwrap();
    let find = |d: &[u8], kind: &[u8], from: usize| {
        from + d[from..].windows(4).position(|w| w == kind).unwrap() - 4
    };
    let edts = find(&d, b"edts", 0);
    d[edts + 4..edts + 8].copy_from_slice(b"free");
    let moov = find(&d, b"moov", 0);
    let udta = find(&d, b"udta", moov);
    let meta = find(&d, b"meta", udta);
    let ilst = find(&d, b"ilst", meta);
    assert_eq!(ilst + 8, d.len(), "an empty ilst at the end of the file");
    let atom = |kind: &[u8], payload: &[u8]| {
        let mut b = u32::try_from(payload.len() + 8)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    };
    let value = format!(
        " 00000000 {PRIMING:08X} {:08X} {SOURCE_FRAMES:016X} 00000000",
        90_112 - PRIMING - SOURCE_FRAMES
    );
    let tag = atom(
        b"----",
        &[
            atom(b"mean", b"\0\0\0\0com.apple.iTunes"),
            atom(b"name", b"\0\0\0\0iTunSMPB"),
            atom(b"data", &[b"\0\0\0\x01\0\0\0\0", value.as_bytes()].concat()),
        ]
        .concat(),
    );
    for at in [moov, udta, meta, ilst] {
        let size = u32::from_be_bytes(d[at..at + 4].try_into().unwrap());
        let size = size + u32::try_from(tag.len()).unwrap();
        d[at..at + 4].copy_from_slice(&size.to_be_bytes());
    }
    d.extend_from_slice(&tag);
    d
}

fn open(env: &Env, path: &str, gapless: bool) -> Decoder<File> {
    let stream = env.open_with(path, |_| {}).unwrap();
    Decoder::new(stream, DecoderConfig::builder().gapless(gapless).build()).unwrap()
}

#[test]
fn declared_delay_and_length_are_trimmed() {
    let env = Env::new();
    let r = reference("chirp-aac.wav").unwrap();
    let ch = usize::from(r.channels);
    // ffmpeg's decode of these files: the reference (made from the same packets without a
    // container) less its first 1024 frames; the declared length ends it.
    let expected = &r.samples[PRIMING * ch..(PRIMING + SOURCE_FRAMES) * ch];
    for name in ["chirp.m4a", "chirp-faststart.m4a"] {
        let path = format!("/gapless/{name}");
        let file = with_edit_list(name, PRIMING as u32, 4000);
        env.server
            .route(&path, Route::new(file).content_type("audio/mp4"));

        let mut d = open(&env, &path, true);
        assert_eq!(d.info().frames, Some(SOURCE_FRAMES as u64), "{name}");
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(pcm.len(), SOURCE_FRAMES * ch, "{name}");
        let c = compare(expected, &pcm, r.channels, 4096);
        assert_eq!(c.lag, 0, "{name}: {c:?}");
        assert!(c.snr_db > 40.0, "{name}: {c:?}");

        // Without gapless trimming: every decoded frame, priming first, as before.
        let mut d = open(&env, &path, false);
        let (untrimmed, err) = decode_all(&mut d);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(untrimmed.len(), r.samples.len(), "{name}");
        assert!(untrimmed[PRIMING * ch..][..pcm.len()] == pcm[..], "{name}");

        // A seek lands on the trimmed timeline: the output at 2 s is the linear decode's.
        let mut d = open(&env, &path, true);
        let frame = 2 * 22_050;
        d.seek(Duration::from_secs(2)).unwrap();
        let (got, first) = read_frames(&mut d, 4096);
        assert_eq!(first, Duration::from_secs(2), "{name}");
        let c = compare(&pcm[frame * ch..(frame + 4096) * ch], &got, r.channels, 64);
        assert_eq!(c.lag, 0, "{name}: {c:?}");
        assert!(c.snr_db > 60.0, "{name}: {c:?}");
    }
}

#[test]
fn itunsmpb_delay_and_length_are_trimmed() {
    let env = Env::new();
    let r = reference("chirp-aac.wav").unwrap();
    let ch = usize::from(r.channels);
    let expected = &r.samples[PRIMING * ch..(PRIMING + SOURCE_FRAMES) * ch];
    env.server.route(
        "/gapless/itunes.m4a",
        Route::new(with_itunsmpb()).content_type("audio/mp4"),
    );
    let mut d = open(&env, "/gapless/itunes.m4a", true);
    assert_eq!(d.info().frames, Some(SOURCE_FRAMES as u64));
    let (pcm, err) = decode_all(&mut d);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pcm.len(), SOURCE_FRAMES * ch);
    let c = compare(expected, &pcm, r.channels, 4096);
    assert_eq!(c.lag, 0, "{c:?}");
    assert!(c.snr_db > 40.0, "{c:?}");
}

#[test]
fn files_without_a_declared_delay_keep_every_frame() {
    let env = Env::new();
    let r = reference("chirp-aac.wav").unwrap();
    for name in ["chirp.m4a", "chirp-faststart.m4a", "chirp-frag.mp4"] {
        let mut d = env.remote(name);
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(pcm.len(), r.samples.len(), "{name}");
    }
}

/// Fixtures encoded straight from a source by ffmpeg's native AAC encoder (3 s of 16 kHz mono):
/// 1024 frames of priming and 48 000 frames of audio, declared by an edit list
/// (`gapless-elst.m4a`) or, on the same packets without an edit list, by an `iTunSMPB` tag in
/// QuickTime's `keys` form (`gapless-smpb.m4a`). The reference is ffmpeg's decode of the first.
#[test]
fn real_priming_declared_by_elst_or_itunsmpb_is_trimmed() {
    const DECLARED: usize = 48_000;
    let env = Env::new();
    let r = reference("gapless-aac.wav").unwrap();
    assert_eq!((r.sample_rate, r.channels), (16_000, 1));
    // ffmpeg trims the priming by the edit list but plays the padding: 48 packets of 1024 frames
    // less the priming.
    assert_eq!(r.frames(), 48 * 1024 - PRIMING);
    let mut decodes = Vec::new();
    for name in ["gapless-elst.m4a", "gapless-smpb.m4a"] {
        let mut d = env.remote(name);
        assert_eq!(d.info().frames, Some(DECLARED as u64), "{name}");
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(pcm.len(), DECLARED, "{name}: the declared length");
        let c = compare(&r.samples[..DECLARED], &pcm, 1, 4096);
        assert_eq!(c.lag, 0, "{name}: {c:?}");
        assert!(c.snr_db > 40.0, "{name}: {c:?}");
        // Without trimming: every frame of the 48 packets, priming and padding included.
        let (untrimmed, err) = decode_all(&mut open(&env, &format!("/media/{name}"), false));
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(untrimmed.len(), 48 * 1024, "{name}");
        assert!(untrimmed[PRIMING..][..DECLARED] == pcm[..], "{name}");
        decodes.push(pcm);
    }
    assert!(decodes[0] == decodes[1], "one encoding, two declarations");
}
