//! `Decoder` over `Stream<Hls>`: the bundled 30 s ladder (16 kHz mono AAC-LC, three variants) in
//! TS, fMP4 and packed ADTS, variant switches, and seeks by time.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{AbrMode, BoundaryKind, RedactedUrl, Source, Stream};
use kithara_test_support::pcm::{compare, reference};

use crate::common::Env;

const RATE: u32 = 16_000;
/// One AAC frame.
const FRAME: usize = 1024;
const FORMS: [&str; 3] = ["master.m3u8", "master-fmp4.m3u8", "master-adts.m3u8"];

fn open(env: &Env, master: &str, variant: usize) -> Decoder<Hls> {
    open_with(env, master, variant, |c| c)
}

fn open_with(
    env: &Env,
    master: &str,
    variant: usize,
    f: impl FnOnce(HlsConfig) -> HlsConfig,
) -> Decoder<Hls> {
    let url = env.server.url(&format!("/media/hls/{master}"));
    let config = f(HlsConfig::new(url.clone())
        .downloader(env.dl.clone())
        .abr_mode(AbrMode::Fixed(variant)));
    let stream = env.rt.block_on(Stream::<Hls>::new(config)).unwrap();
    Decoder::new(
        stream,
        DecoderConfig::builder()
            .origin(RedactedUrl::new(&url))
            .build(),
    )
    .unwrap()
}

/// A decoded chunk without its samples.
struct Seen {
    time: Duration,
    frames: usize,
    change: Option<kithara_decode::StreamChange>,
}

/// Decodes to the end, checking that the chunks follow each other without gap or overlap.
fn decode_contiguous(d: &mut Decoder<Hls>) -> (Vec<Seen>, Vec<f32>) {
    let mut chunks: Vec<Seen> = Vec::new();
    let mut pcm = Vec::new();
    while let Some(c) = d.next_chunk().unwrap() {
        if let Some(prev) = chunks.last() {
            assert_eq!(
                frame_at(c.time),
                frame_at(prev.time) + prev.frames,
                "gap or overlap at {:?}",
                c.time
            );
        }
        pcm.extend_from_slice(&c.samples);
        chunks.push(Seen {
            time: c.time,
            frames: c.frames(),
            change: c.change,
        });
    }
    (chunks, pcm)
}

fn frame_at(t: Duration) -> usize {
    ((t.as_nanos() * u128::from(RATE) + 500_000_000) / 1_000_000_000) as usize
}

/// The playlist's duration in frames.
fn duration_frames(d: &Decoder<Hls>) -> usize {
    frame_at(d.with_stream(|s| s.timeline().duration()).unwrap())
}

fn assert_whole(name: &str, d: &Decoder<Hls>, chunks: &[Seen], pcm: &[f32]) {
    assert_eq!(chunks[0].time, Duration::ZERO, "{name}");
    let want = duration_frames(d);
    assert_eq!(
        want,
        30 * 16_000 + 1280,
        "{name}: the playlist says 30.08 s"
    );
    assert!(
        pcm.len().abs_diff(want) <= FRAME,
        "{name}: {} frames for {want}",
        pcm.len()
    );
}

#[test]
fn aac_in_ts_decodes_the_whole_30_s_within_40_db_without_gap() {
    let env = Env::new();
    let r = reference("hls-v0.wav").unwrap();
    let mut d = open(&env, "master.m3u8", 0);
    assert_eq!((d.info().sample_rate, d.info().channels), (RATE, 1));
    assert_eq!(d.info().duration, Some(Duration::from_millis(30_080)));
    let (chunks, pcm) = decode_contiguous(&mut d);
    assert_whole("TS", &d, &chunks, &pcm);
    let c = compare(&r.samples, &pcm, 1, 4096);
    assert!(c.snr_db > 40.0, "{c:?}");
    assert!(c.frames + FRAME >= r.frames(), "{c:?}");
    assert!(
        chunks.iter().all(|c| c.change.is_none()),
        "no boundary crossed"
    );
}

#[test]
fn fmp4_and_packed_adts_decode_like_ts() {
    let env = Env::new();
    let r = reference("hls-v0.wav").unwrap();
    for master in &FORMS[1..] {
        let mut d = open(&env, master, 0);
        let (chunks, pcm) = decode_contiguous(&mut d);
        assert_whole(master, &d, &chunks, &pcm);
        let c = compare(&r.samples, &pcm, 1, 4096);
        assert!(c.snr_db > 40.0, "{master}: {c:?}");
        assert!(c.frames + FRAME >= r.frames(), "{master}: {c:?}");
    }
}

/// Plays variant 0, switches to variant 2 after 3 s of decoding: one reported switch, no gap and
/// no overlap, the count of a whole decode, and the audio of each variant on its side of the
/// switch.
#[test]
fn a_forced_variant_switch_is_reported_without_gap_or_overlap() {
    let env = Env::new();
    let r = reference("hls-v0.wav").unwrap();
    for master in FORMS {
        // The variants' own decodes, to splice the expected audio from.
        let (_, v0) = decode_contiguous(&mut open(&env, master, 0));
        let (_, v2) = decode_contiguous(&mut open(&env, master, 2));

        // A short buffer, so most segments are laid out after the switch is asked for.
        let mut d = open_with(&env, master, 0, |c| c.buffer_ahead(Duration::from_secs(4)));
        let abr = d.with_stream(|s| s.source().abr_handle()).unwrap();
        let mut pcm = Vec::new();
        let mut chunks: Vec<Seen> = Vec::new();
        while pcm.len() < 3 * RATE as usize {
            let c = d.next_chunk().unwrap().unwrap();
            pcm.extend_from_slice(&c.samples);
            chunks.push(Seen {
                time: c.time,
                frames: c.frames(),
                change: c.change,
            });
        }
        abr.set_mode(AbrMode::Fixed(2));
        let (rest, tail) = decode_contiguous(&mut d);
        assert_eq!(
            frame_at(rest[0].time),
            frame_at(chunks.last().unwrap().time) + chunks.last().unwrap().frames
        );
        chunks.extend(rest);
        pcm.extend_from_slice(&tail);
        assert_whole(master, &d, &chunks, &pcm);

        let changes: Vec<_> = chunks
            .iter()
            .filter_map(|c| c.change.as_ref().map(|ch| (c.time, ch)))
            .collect();
        assert_eq!(changes.len(), 1, "{master}: {changes:?}");
        let (at, change) = changes[0];
        assert_eq!(change.kind, BoundaryKind::VariantSwitch, "{master}");
        assert_eq!(
            change.media_info.and_then(|m| m.variant_index),
            Some(2),
            "{master}"
        );
        assert!(change.codec_kept, "{master}: same AAC set-up on both sides");
        let s = frame_at(at);
        assert!(
            s >= 3 * RATE as usize && s % FRAME == 0,
            "{master}: switch at {at:?}"
        );

        // Before the switch: variant 0, against ffmpeg's reference.
        let c = compare(&r.samples[..s], &pcm[..s], 1, 0);
        assert!(c.snr_db > 40.0, "{master}: before the switch {c:?}");
        // The whole: variant 0 then variant 2, spliced at the switch. The frame at the switch
        // overlaps variant 0's last block with variant 2's first, close to either.
        let mut spliced = v0[..s].to_vec();
        spliced.extend_from_slice(&v2[s..]);
        assert_eq!(pcm.len(), spliced.len(), "{master}");
        let c = compare(&spliced, &pcm, 1, 0);
        assert!(
            c.snr_db > 40.0,
            "{master}: against the spliced variants {c:?}"
        );
        assert!(
            pcm[s + FRAME..] == v2[s + FRAME..],
            "{master}: after the switch frame, variant 2 exactly"
        );
    }
}

/// Seeks by time land on the requested frame: the samples equal a decode from the start at that
/// frame.
#[test]
fn a_time_seek_returns_the_sample_at_the_target_first() {
    let env = Env::new();
    for master in FORMS {
        let (_, linear) = decode_contiguous(&mut open(&env, master, 0));
        let mut d = open(&env, master, 0);
        d.next_chunk().unwrap().unwrap();
        // 20 s is inside a segment; 20.032 s is a segment start (pre-roll from the one before);
        // then back to 2.5 s.
        for ms in [20_000, 20_032, 2_500] {
            let t = Duration::from_millis(ms);
            d.seek(t).unwrap();
            assert_eq!(d.position(), t, "{master}");
            let first = d.next_chunk().unwrap().unwrap();
            assert_eq!(
                first.time, t,
                "{master}: the first chunk starts at the target"
            );
            assert!(first.change.is_none());
            let at = frame_at(t);
            let mut got = first.samples;
            while got.len() < RATE as usize {
                got.extend_from_slice(&d.next_chunk().unwrap().unwrap().samples);
            }
            assert!(
                got[..] == linear[at..at + got.len()],
                "{master}: after the seek to {t:?}, the linear decode's samples"
            );
        }
    }
}

/// A seek by time to media not laid out yet starts a new run; a seek back into the first run
/// then reads to that run's end, where the stream jumps to the new run: the decoder seeks back to
/// where it is, and the audio goes on without gap or overlap.
#[test]
fn after_a_seek_jump_the_run_that_ends_early_continues_where_it_was() {
    let env = Env::new();
    for master in FORMS {
        let (_, linear) = decode_contiguous(&mut open(&env, master, 0));
        let mut d = open_with(&env, master, 0, |c| c.buffer_ahead(Duration::from_secs(4)));
        d.next_chunk().unwrap().unwrap();
        d.seek(Duration::from_secs(25)).unwrap();
        let first = d.next_chunk().unwrap().unwrap();
        assert_eq!(first.time, Duration::from_secs(25));
        d.seek(Duration::from_secs(1)).unwrap();
        let (chunks, pcm) = decode_contiguous(&mut d);
        assert_eq!(chunks[0].time, Duration::from_secs(1), "{master}");
        let from = frame_at(Duration::from_secs(1));
        assert_eq!(pcm.len(), linear.len() - from, "{master}");
        let c = compare(&linear[from..], &pcm, 1, 0);
        assert!(c.snr_db > 40.0, "{master}: {c:?}");
        let jumps: Vec<_> = chunks
            .iter()
            .filter_map(|c| c.change.as_ref().map(|ch| ch.kind))
            .collect();
        assert!(
            !jumps.is_empty() && jumps.iter().all(|k| *k == BoundaryKind::SeekJump),
            "{master}: the end of the first run is a reported seek jump: {jumps:?}"
        );
    }
}
