//! Seeks far into a long constant-bitrate MP3 that has not been downloaded: the stream jumps to
//! the target's neighbourhood (the request log shows it), and the output is the full decode's,
//! sample for sample.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig, Error, SeekMode};
use kithara_file::File;
use kithara_test_support::Route;

use crate::common::{media_path, read_frames, Env};

/// chirp.mp3: MPEG-2 layer III, 64 kbit/s, 22.05 kHz, stereo, 576 samples per frame.
const RATE: usize = 22_050;
const CH: usize = 2;
const BYTES_PER_SEC: u64 = 8_000;
/// The nominal frame length, 72 × 64000 / 22050 bytes, as numerator over `RATE`.
const NOMINAL: i64 = 72 * 64_000;

/// The audio frames of chirp.mp3 (after its ID3v2 tag and its Info frame).
fn chirp_frames() -> Vec<Vec<u8>> {
    let d = std::fs::read(media_path("chirp.mp3")).unwrap();
    assert_eq!(&d[..3], b"ID3");
    let size = d[6..10].iter().fold(0, |a, &b| (a << 7) | usize::from(b));
    let mut at = 10 + size;
    let mut frames = Vec::new();
    while at + 4 <= d.len() {
        // MPEG-2 layer III, no CRC, 64 kbit/s, 22.05 kHz: 208 bytes, 209 padded.
        assert_eq!((d[at], d[at + 1], d[at + 2] & 0xfd), (0xff, 0xf3, 0x80));
        let len = 208 + usize::from((d[at + 2] >> 1) & 1);
        frames.push(d[at..at + len].to_vec());
        at += len;
    }
    assert_eq!(at, d.len());
    let audio = frames.split_off(1);
    assert_eq!(&frames[0][21..25], b"Info");
    // Its main data starts in itself (main_data_begin 0): the frames may follow anything.
    assert_eq!(audio[0][4], 0);
    audio
}

/// About `secs` seconds of constant-bitrate MP3 without a tag: runs of chirp's frames, each from
/// its first frame (which needs no earlier one), cut so that every frame starts within a byte or
/// two of `index × nominal length`, as a CBR encoder's padding keeps them.
fn long_cbr_mp3(secs: usize) -> Vec<u8> {
    let frames = chirp_frames();
    // drift[n]: bytes of the first n frames less n nominal lengths, times RATE.
    let mut drift = vec![0i64];
    let mut bytes = 0i64;
    for (n, f) in frames.iter().enumerate() {
        bytes += f.len() as i64;
        drift.push(bytes * RATE as i64 - (n as i64 + 1) * NOMINAL);
    }
    let most = (1..drift.len()).max_by_key(|&n| (drift[n], n)).unwrap();
    let mut out = Vec::new();
    let mut count = 0usize;
    while count * 576 < secs * RATE {
        let behind = (out.len() * RATE) as i64 - count as i64 * NOMINAL;
        let n = if behind < 0 { most } else { frames.len() };
        for f in &frames[..n] {
            out.extend_from_slice(f);
        }
        count += n;
    }
    out
}

fn open(env: &Env, mode: SeekMode) -> Decoder<File> {
    let stream = env
        .open_with("/long.mp3", |c| c.buffer_ahead = Some(256 << 10))
        .unwrap();
    Decoder::new(stream, DecoderConfig::builder().seek_mode(mode).build()).unwrap()
}

fn sent(env: &Env) -> u64 {
    env.server.requests().iter().map(|r| r.bytes_sent).sum()
}

#[test]
fn a_far_seek_fetches_the_neighbourhood_and_matches_the_full_decode() {
    let env = Env::new();
    env.server.route(
        "/long.mp3",
        Route::new(long_cbr_mp3(600)).content_type("audio/mpeg"),
    );
    let (target, len) = (300 * RATE, 5 * RATE);
    let at = Duration::from_secs(300);

    let mut fast = open(&env, SeekMode::Fast);
    fast.seek(at).unwrap();
    let (got, first) = read_frames(&mut fast, len);
    assert_eq!(first, at);
    drop(fast);
    let fetched = sent(&env);
    assert!(
        fetched <= 5 * BYTES_PER_SEC + (1 << 20),
        "{fetched} bytes fetched for 5 s of audio at 300 s"
    );

    // The full decode from the start, up to the end of the window.
    env.server.clear_log();
    let mut full = open(&env, SeekMode::Fast);
    let (reference, _) = read_frames(&mut full, target + len);
    assert_eq!(reference.len(), (target + len) * CH);
    assert!(
        got == reference[target * CH..],
        "the seek's output is not the full decode's"
    );
    drop(full);

    // The accurate mode walks every frame from the start: same output, every byte before it.
    env.server.clear_log();
    let mut accurate = open(&env, SeekMode::Accurate);
    accurate.seek(at).unwrap();
    let (walked, first) = read_frames(&mut accurate, len);
    assert_eq!(first, at);
    assert!(walked == got);
    drop(accurate);
    assert!(sent(&env) >= 300 * BYTES_PER_SEC);
}

#[test]
fn seeks_back_and_forth_land_on_the_frame() {
    let env = Env::new();
    env.server.route(
        "/long.mp3",
        Route::new(long_cbr_mp3(60)).content_type("audio/mpeg"),
    );
    let mut full = open(&env, SeekMode::Fast);
    let (reference, _) = read_frames(&mut full, 60 * RATE);
    let mut d = open(&env, SeekMode::Fast);
    // Back and forth: near the start (the reader's own seek), frame-aligned, mid-frame, near the
    // end, and random targets.
    let mut rng = fastrand::Rng::with_seed(21);
    let fixed = [
        40 * RATE,
        12_345 * 50,
        3 * RATE + 7,
        1_000,
        576 * 20,
        59 * RATE,
    ];
    let random = (0..24).map(|_| rng.usize(..60 * RATE));
    for frame in fixed.into_iter().chain(random) {
        d.seek(at_frame(frame)).unwrap();
        let want = (reference.len() / CH - frame).min(RATE / 4);
        let (got, first) = read_frames(&mut d, want);
        assert_eq!(first, at_frame(frame), "frame {frame}");
        let want = &reference[frame * CH..(frame + want) * CH];
        let diff = got.iter().zip(want).position(|(a, b)| a != b);
        assert!(
            got == want,
            "frame {frame}: first difference at sample {diff:?}"
        );
    }
    // Past the end: the reader's own seek says so.
    let past = d.seek(Duration::from_secs(600));
    assert!(matches!(past, Err(Error::Seek { .. })), "{past:?}");
}

fn at_frame(frame: usize) -> Duration {
    let f = frame as u64;
    let rate = RATE as u64;
    Duration::new(f / rate, ((f % rate) * 1_000_000_000 / rate) as u32)
}
