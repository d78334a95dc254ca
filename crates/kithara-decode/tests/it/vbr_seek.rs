//! Seeks in variable-bitrate MP3 by the `Xing` tag's TOC: the stream jumps to the target's
//! neighbourhood (the request log shows it), the landing is an estimate whose bound the decoder
//! reports, and the output is the full decode's at the true position, which lies within that
//! bound of the reported one. `SeekMode::Accurate` stays sample-exact.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig, SeekMode, TimeAccuracy};
use kithara_file::File;
use kithara_test_support::Route;

use crate::common::{media_path, read_frames, Env};

/// chirp-vbr.mp3: LAME VBR, MPEG-2 layer III, 22.05 kHz, stereo, 576 samples per frame.
const RATE: usize = 22_050;
const CH: usize = 2;
const SPF: usize = 576;

/// The fixture's bytes split into its ID3v2 tag, its Xing frame and its audio frames.
fn vbr_frames() -> (Vec<u8>, Vec<Vec<u8>>) {
    let d = std::fs::read(media_path("chirp-vbr.mp3")).unwrap();
    assert_eq!(&d[..3], b"ID3");
    let size = d[6..10].iter().fold(0, |a, &b| (a << 7) | usize::from(b));
    let mut at = 10 + size;
    let mut frames = Vec::new();
    while at + 4 <= d.len() {
        // MPEG-2 layer III, no CRC, 22.05 kHz: 72 × bitrate / rate bytes, plus the padding byte.
        assert_eq!((d[at], d[at + 1], (d[at + 2] >> 2) & 3), (0xff, 0xf3, 0));
        let kbps = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        let len =
            72_000 * kbps[usize::from(d[at + 2] >> 4)] / RATE + usize::from((d[at + 2] >> 1) & 1);
        frames.push(d[at..at + len].to_vec());
        at += len;
    }
    assert_eq!(at, d.len());
    let audio = frames.split_off(1);
    assert_eq!(&frames[0][21..25], b"Xing");
    // Its main data starts in itself (main_data_begin 0): the frames may follow anything.
    assert_eq!(audio[0][4], 0);
    (frames.remove(0), audio)
}

/// About `secs` seconds of VBR MP3: runs of the fixture's frames of random lengths, each from its
/// first frame, behind the fixture's Xing frame rewritten for the whole (frame count, byte count,
/// a TOC as LAME computes it: the byte of the frame at each percent, in 256ths of the stream).
fn long_vbr_mp3(secs: usize) -> Vec<u8> {
    let (xing, frames) = vbr_frames();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut audio = Vec::new();
    let mut starts = Vec::new();
    while starts.len() * SPF < secs * RATE {
        let n = rng.usize(frames.len() / 2..=frames.len());
        for f in &frames[..n] {
            starts.push(xing.len() + audio.len());
            audio.extend_from_slice(f);
        }
    }
    let bytes = xing.len() + audio.len();
    let n = starts.len();
    let mut tag = xing.clone();
    // Xing at 21: magic, flags (frames, bytes, TOC, quality), frames, bytes, TOC.
    tag[29..33].copy_from_slice(&u32::try_from(n).unwrap().to_be_bytes());
    tag[33..37].copy_from_slice(&u32::try_from(bytes).unwrap().to_be_bytes());
    for i in 0..100 {
        tag[37 + i] = (starts[i * n / 100] * 256 / bytes) as u8;
    }
    // The LAME tag's CRC, 0: "not checked" (its fields are kept: delay and padding).
    let crc = 21 + 120 + 36 - 2;
    tag[crc..crc + 2].copy_from_slice(&[0, 0]);
    [tag, audio].concat()
}

fn open(env: &Env, path: &str, mode: SeekMode) -> Decoder<File> {
    let stream = env
        .open_with(path, |c| c.buffer_ahead = Some(256 << 10))
        .unwrap();
    Decoder::new(stream, DecoderConfig::builder().seek_mode(mode).build()).unwrap()
}

fn frames_of(d: Duration) -> usize {
    (d.as_nanos() * RATE as u128 / 1_000_000_000) as usize
}

fn at_frame(frame: usize) -> Duration {
    let f = frame as u64;
    let rate = RATE as u64;
    Duration::new(f / rate, ((f % rate) * 1_000_000_000 / rate) as u32)
}

/// The shift (in frames, a whole number of MPEG frames within `bound` frames either way) at which
/// `got` is the full decode `reference` from `frame` on, sample for sample.
fn true_shift(reference: &[f32], got: &[f32], frame: usize, bound: usize) -> Option<i64> {
    let n = (bound / SPF) as i64;
    (-n..=n).map(|k| k * SPF as i64).find(|&shift| {
        let Some(start) = (frame as i64 + shift)
            .try_into()
            .ok()
            .map(|s: usize| s * CH)
        else {
            return false;
        };
        reference.get(start..start + got.len()) == Some(got)
    })
}

/// The bound a fast seek reports, in frames; panics on an exact one.
fn bound_of(d: &Decoder<File>) -> usize {
    match d.time_accuracy() {
        TimeAccuracy::Within(b) => frames_of(b),
        other => panic!("a seek by the TOC reported {other:?}"),
    }
}

#[test]
fn seeks_by_the_toc_land_within_the_reported_bound() {
    let env = Env::new();
    let path = "/media/chirp-vbr.mp3";
    let mut full = open(&env, path, SeekMode::Fast);
    let (reference, _) = read_frames(&mut full, 4 * RATE);
    assert_eq!(full.time_accuracy(), TimeAccuracy::Exact);
    let mut fast = open(&env, path, SeekMode::Fast);
    let mut accurate = open(&env, path, SeekMode::Accurate);
    let mut rng = fastrand::Rng::with_seed(21);
    let fixed = [2 * RATE, 3 * RATE + 7, RATE / 2, 12 * SPF];
    let random = (0..16).map(|_| rng.usize(12 * SPF..3 * RATE));
    for frame in fixed.into_iter().chain(random) {
        let len = RATE / 4;
        fast.seek(at_frame(frame)).unwrap();
        let bound = bound_of(&fast);
        // A 4 s file: 1 % of it and 1/256 of its bytes are a few frames.
        assert!(bound <= 8 * SPF, "frame {frame}: bound {bound}");
        let (got, first) = read_frames(&mut fast, len);
        assert_eq!(first, at_frame(frame), "frame {frame}: the reported time");
        let shift = true_shift(&reference, &got, frame, bound);
        assert!(
            shift.is_some(),
            "frame {frame}: not the full decode within {bound} frames"
        );

        accurate.seek(at_frame(frame)).unwrap();
        assert_eq!(accurate.time_accuracy(), TimeAccuracy::Exact);
        let (got, first) = read_frames(&mut accurate, len);
        assert_eq!(first, at_frame(frame));
        assert!(
            got == reference[frame * CH..][..got.len()],
            "frame {frame}: accurate"
        );
    }
    // Near the start the reader's own seek applies: exact again.
    fast.seek(at_frame(1000)).unwrap();
    assert_eq!(fast.time_accuracy(), TimeAccuracy::Exact);
    let (got, _) = read_frames(&mut fast, RATE / 4);
    assert!(got == reference[1000 * CH..][..got.len()]);
}

#[test]
fn a_far_seek_in_a_long_vbr_file_fetches_the_neighbourhood() {
    let env = Env::new();
    let file = long_vbr_mp3(600);
    let bytes_per_sec = file.len() as u64 / 600;
    env.server
        .route("/long.mp3", Route::new(file).content_type("audio/mpeg"));
    let (target, len) = (300 * RATE, 5 * RATE);

    let mut fast = open(&env, "/long.mp3", SeekMode::Fast);
    fast.seek(at_frame(target)).unwrap();
    let bound = bound_of(&fast);
    // 1 % of 600 s and 1/256 of the bytes (2.3 s), widened by a frame each side.
    assert!(bound < 10 * RATE, "bound {bound}");
    let (got, first) = read_frames(&mut fast, len);
    assert_eq!(first, at_frame(target));
    drop(fast);
    let sent: u64 = env.server.requests().iter().map(|r| r.bytes_sent).sum();
    assert!(
        sent <= 5 * bytes_per_sec + (1 << 20),
        "{sent} bytes fetched for 5 s of audio at 300 s"
    );

    // The full decode from the start, past the window and its bound.
    let mut full = open(&env, "/long.mp3", SeekMode::Fast);
    let (reference, _) = read_frames(&mut full, target + len + bound);
    let shift = true_shift(&reference, &got, target, bound);
    assert!(
        shift.is_some(),
        "the seek's output is not the full decode within {bound} frames"
    );

    // The accurate mode: the full decode's, sample for sample.
    let mut accurate = open(&env, "/long.mp3", SeekMode::Accurate);
    accurate.seek(at_frame(target)).unwrap();
    assert_eq!(accurate.time_accuracy(), TimeAccuracy::Exact);
    let (walked, first) = read_frames(&mut accurate, len);
    assert_eq!(first, at_frame(target));
    assert!(walked == reference[target * CH..][..len * CH]);
}

#[test]
fn a_vbr_file_without_a_toc_is_read_from_the_start() {
    let env = Env::new();
    let (xing, frames) = vbr_frames();
    // The Xing tag says it has no TOC (its flags lose bit 2; the bytes stay, unread).
    let mut tag = xing;
    tag[28] &= !4;
    let file = [tag, frames.concat()].concat();
    env.server
        .route("/no-toc.mp3", Route::new(file).content_type("audio/mpeg"));
    let mut full = open(&env, "/no-toc.mp3", SeekMode::Fast);
    let (reference, _) = read_frames(&mut full, 4 * RATE);
    let mut d = open(&env, "/no-toc.mp3", SeekMode::Fast);
    for frame in [2 * RATE, 3 * RATE + 7, RATE] {
        d.seek(at_frame(frame)).unwrap();
        assert_eq!(d.time_accuracy(), TimeAccuracy::Exact, "frame {frame}");
        let (got, first) = read_frames(&mut d, RATE / 4);
        assert_eq!(first, at_frame(frame));
        assert!(got == reference[frame * CH..][..got.len()], "frame {frame}");
    }
}
