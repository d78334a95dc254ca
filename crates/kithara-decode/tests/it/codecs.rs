//! The optional codecs over the loopback server: Ogg Opus through libopus (feature `opus`),
//! HE-AAC v1/v2 through FDK AAC (feature `fdk-aac`) as ADTS and in an HLS ladder next to AAC-LC,
//! against ffmpeg's decodes; without a feature, the error naming it.

#![cfg_attr(
    not(any(feature = "opus", feature = "fdk-aac")),
    allow(dead_code, unused_imports)
)]

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig, PcmChunk};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{AbrMode, BoundaryKind, RedactedUrl, Source, Stream, StreamType};
use kithara_test_support::pcm::{compare, reference, Comparison};

use crate::common::Env;

/// Decodes to the end: every chunk's samples, checking that each starts where the one before
/// ended and comes at `rate` with `channels`.
fn decode_checked<T: StreamType>(d: &mut Decoder<T>, rate: u32, channels: u16) -> Vec<PcmChunk> {
    let mut chunks: Vec<PcmChunk> = Vec::new();
    while let Some(c) = d.next_chunk().unwrap() {
        assert_eq!(
            (c.sample_rate, c.channels),
            (rate, channels),
            "at {:?}",
            c.time
        );
        if let Some(prev) = chunks.last() {
            let end = frame_at(prev.time, rate) + prev.frames() as u64;
            assert_eq!(
                frame_at(c.time, rate),
                end,
                "gap or overlap at {:?}",
                c.time
            );
        }
        chunks.push(c);
    }
    chunks
}

/// The frame at `t` (rounded to the nearest).
fn frame_at(t: Duration, rate: u32) -> u64 {
    ((t.as_nanos() * u128::from(rate) + 500_000_000) / 1_000_000_000) as u64
}

fn samples(chunks: &[PcmChunk]) -> Vec<f32> {
    chunks
        .iter()
        .flat_map(|c| c.samples.iter().copied())
        .collect()
}

fn against(reference_name: &str, pcm: &[f32], channels: u16) -> Comparison {
    let r = reference(reference_name).unwrap();
    assert_eq!(r.channels, channels, "{reference_name}");
    compare(&r.samples, pcm, channels, 4096)
}

/// Ogg Opus at 48 kHz stereo, from time zero (the pre-skip taken off), within 80 dB of ffmpeg's
/// decode through libopus, aligned with it.
#[cfg(feature = "opus")]
#[test]
fn ogg_opus_decodes_at_48_khz_like_ffmpeg() {
    let env = Env::new();
    let mut d = env.remote("chirp.opus");
    assert_eq!((d.info().sample_rate, d.info().channels), (48_000, 2));
    assert_eq!(d.info().codec_name, "opus");
    let chunks = decode_checked(&mut d, 48_000, 2);
    assert_eq!(chunks[0].time, Duration::ZERO);
    let pcm = samples(&chunks);
    let c = against("chirp-opus.wav", &pcm, 2);
    assert!(c.lag == 0 && c.snr_db > 80.0, "{c:?}");
    // The 4 s of the source (22.05 kHz, resampled to 48 kHz by the encoder), to the frame.
    assert_eq!(pcm.len() / 2, 4 * 48_000);
}

/// Frames by which ffmpeg's decode of an HE-AAC stream lags FDK's: ffmpeg's own AAC decoder does
/// not take off the SBR filter banks' delay, FDK's does (measured: the same lag for every fixture,
/// and FDK's output lags the source by the encoder's delay alone, 4094 frames).
const FFMPEG_SBR_LAG: i64 = 962;

/// HE-AAC v1 (SBR) in ADTS: 44.1 kHz stereo from a 22.05 kHz core, like ffmpeg's decode.
#[cfg(feature = "fdk-aac")]
#[test]
fn he_aac_v1_adts_decodes_at_full_rate_like_ffmpeg() {
    let env = Env::new();
    let mut d = env.remote("chirp-he.aac");
    let chunks = decode_checked(&mut d, 44_100, 2);
    assert_eq!(d.info().sample_rate, 44_100);
    assert_eq!(d.info().codec_name, "fdk-aac");
    let c = against("chirp-he.wav", &samples(&chunks), 2);
    assert!(c.lag == -FFMPEG_SBR_LAG && c.snr_db > 40.0, "{c:?}");
}

/// HE-AAC v2 (SBR + PS) in ADTS: 44.1 kHz stereo from a 22.05 kHz mono core, like ffmpeg's decode.
#[cfg(feature = "fdk-aac")]
#[test]
fn he_aac_v2_adts_decodes_at_full_rate_in_stereo_like_ffmpeg() {
    let env = Env::new();
    let mut d = env.remote("chirp-he2.aac");
    let chunks = decode_checked(&mut d, 44_100, 2);
    let c = against("chirp-he2.wav", &samples(&chunks), 2);
    assert!(c.lag == -FFMPEG_SBR_LAG && c.snr_db > 60.0, "{c:?}");
}

const HE_RATE: u32 = 44_100;

fn open_ladder(env: &Env, variant: usize, f: impl FnOnce(&mut HlsConfig)) -> Decoder<Hls> {
    let url = env.server.url("/media/hls-he/master.m3u8");
    let mut config = HlsConfig::builder()
        .url(url.clone())
        .downloader(env.dl.clone())
        .abr_mode(AbrMode::Fixed(variant))
        .build();
    f(&mut config);
    let stream = env.rt.block_on(Stream::<Hls>::new(config)).unwrap();
    let config = DecoderConfig::builder()
        .origin(RedactedUrl::new(&url))
        .build();
    Decoder::new(stream, config).unwrap()
}

/// The ladder's HE-AAC variants (v2, v1) in TS segments decode like their ADTS files.
#[cfg(feature = "fdk-aac")]
#[test]
fn he_aac_in_hls_decodes_at_full_rate_like_ffmpeg() {
    let env = Env::new();
    for (variant, reference_name) in [(0, "chirp-he2.wav"), (1, "chirp-he.wav")] {
        let mut d = open_ladder(&env, variant, |_| {});
        let chunks = decode_checked(&mut d, HE_RATE, 2);
        assert_eq!(chunks[0].time, Duration::ZERO);
        let pcm = samples(&chunks);
        let c = against(reference_name, &pcm, 2);
        assert!(
            c.lag == -FFMPEG_SBR_LAG && c.snr_db > 40.0,
            "v{variant}: {c:?}"
        );
    }
}

/// Output frames FDK AAC's HE-AAC decoder lags its input by (its `outputDelay` at 44.1 kHz),
/// which the decoder takes off the timeline.
const FDK_HE_DELAY: usize = 3671;

/// Switches between the HE-AAC variants and the AAC-LC one, both ways, after 0.25 s of decoding: one
/// reported switch (at the first segment boundary), the same rate and channel count throughout, no gap and no overlap, each
/// variant's own decode on its side of the switch. After a switch away from HE-AAC the audio goes
/// on FDK's output delay later (the FDK binding has no flush: the audio inside the decoder at the
/// boundary is not played); into HE-AAC it goes on aligned.
#[cfg(feature = "fdk-aac")]
#[test]
fn ladder_switches_between_he_aac_and_aac_lc_keep_rate_and_timeline() {
    let env = Env::new();
    let own: Vec<Vec<f32>> = (0..3)
        .map(|v| {
            samples(&decode_checked(
                &mut open_ladder(&env, v, |_| {}),
                HE_RATE,
                2,
            ))
        })
        .collect();
    // The variants carry the same audio at each time (the fixtures are made so).
    for v in [0, 1] {
        let c = compare(&own[2], &own[v], 2, 8192);
        assert!(
            c.lag.abs() <= 2 && c.snr_db > 10.0,
            "v{v} against v2: {c:?}"
        );
    }
    for (from, to) in [(0, 2), (2, 0), (1, 2), (2, 1), (0, 1)] {
        let mut d = open_ladder(&env, from, |c| c.buffer_ahead = Duration::from_millis(500));
        let abr = d.with_stream(|s| s.source().abr_handle()).unwrap();
        let mut chunks = Vec::new();
        while chunks.iter().map(PcmChunk::frames).sum::<usize>() < HE_RATE as usize / 4 {
            chunks.push(d.next_chunk().unwrap().unwrap());
        }
        abr.set_mode(AbrMode::Fixed(to));
        let before = chunks.len();
        chunks.extend(decode_checked(&mut d, HE_RATE, 2));
        let (last, next) = (&chunks[before - 1], &chunks[before]);
        assert_eq!(
            frame_at(next.time, HE_RATE),
            frame_at(last.time, HE_RATE) + last.frames() as u64,
            "{from}->{to}: gap or overlap after 0.25 s"
        );
        assert!(chunks
            .iter()
            .all(|c| (c.sample_rate, c.channels) == (HE_RATE, 2)));
        let changes: Vec<_> = chunks
            .iter()
            .filter_map(|c| c.change.as_ref().map(|ch| (c.time, ch)))
            .collect();
        assert_eq!(changes.len(), 1, "{from}->{to}: {changes:?}");
        let (at, change) = changes[0];
        assert_eq!(change.kind, BoundaryKind::VariantSwitch, "{from}->{to}");
        assert_eq!(change.variant, Some(to), "{from}->{to}");
        assert!(!change.codec_kept, "{from}->{to}: another AAC set-up");
        let pcm = samples(&chunks);
        // At the end of the first segment (43 HE-AAC frames), less FDK's delay if it came first.
        let first = if from == 2 { 0 } else { FDK_HE_DELAY };
        assert_eq!(
            frame_at(at, HE_RATE) as usize,
            43 * 2048 - first,
            "{from}->{to}"
        );
        let s = frame_at(at, HE_RATE) as usize * 2;
        assert!(
            pcm[..s] == own[from][..s],
            "{from}->{to}: the first variant up to the switch"
        );
        // After the switch (past the new decoder's warm-up): the second variant's own decode,
        // as late as the first variant's decoder delay.
        let skip = first;
        let warm = 16 * 2048 * 2;
        let theirs = &own[to][s + skip * 2 + warm..];
        let ours = &pcm[s + warm..];
        let n = theirs.len().min(ours.len());
        let c = compare(&theirs[..n], &ours[..n], 2, 0);
        assert!(c.snr_db > 40.0, "{from}->{to}: after the switch {c:?}");
    }
}

/// A seek in an HE-AAC file lands on the requested frame, and the audio from there is the linear
/// decode's (FDK restarted, its delay and warm-up decoded before the target and discarded).
#[cfg(feature = "fdk-aac")]
#[test]
fn a_seek_in_he_aac_lands_on_the_target_with_the_linear_audio() {
    let env = Env::new();
    for name in ["chirp-he.aac", "chirp-he2.aac"] {
        let linear = samples(&decode_checked(&mut env.remote(name), HE_RATE, 2));
        let mut d = env.remote(name);
        d.next_chunk().unwrap().unwrap();
        for ms in [2_500, 1_000, 3_210] {
            let t = Duration::from_millis(ms);
            d.seek(t).unwrap();
            let first = d.next_chunk().unwrap().unwrap();
            assert_eq!(
                first.time, t,
                "{name}: the first chunk starts at the target"
            );
            let at = frame_at(t, HE_RATE) as usize * 2;
            let mut got = first.samples;
            while got.len() < HE_RATE as usize / 2 {
                got.extend_from_slice(&d.next_chunk().unwrap().unwrap().samples);
            }
            let c = compare(&linear[at..at + got.len()], &got, 2, 0);
            assert!(c.snr_db > 40.0, "{name}: after the seek to {t:?} {c:?}");
        }
    }
}

/// A station joined mid-stream: the HE-AAC file from its 40th ADTS frame is HE-AAC at full rate
/// from the first chunk (FDK AAC's encoder repeats the SBR header; one that sends it rarely would
/// be taken for AAC-LC by the first access unit).
#[cfg(feature = "fdk-aac")]
#[test]
fn he_aac_joined_mid_stream_decodes_at_full_rate() {
    let env = Env::new();
    let bytes = std::fs::read(crate::common::media_path("chirp-he.aac")).unwrap();
    let mut pos = 0usize;
    for _ in 0..40 {
        // The ADTS frame length: 13 bits from byte 3.
        let b = &bytes[pos..pos + 6];
        pos +=
            ((usize::from(b[3]) & 3) << 11) | (usize::from(b[4]) << 3) | (usize::from(b[5]) >> 5);
    }
    env.server.route(
        "/mid.aac",
        kithara_test_support::Route::new(bytes[pos..].to_vec()).content_type("audio/aac"),
    );
    let mut d = env.remote_path("/mid.aac").unwrap();
    let mut rates = Vec::new();
    while let Some(c) = d.next_chunk().unwrap() {
        rates.push((c.sample_rate, c.channels));
    }
    rates.dedup();
    assert_eq!(rates, [(HE_RATE, 2)]);
}
