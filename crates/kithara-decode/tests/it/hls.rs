//! `Decoder` over `Stream<Hls>`: the bundled 30 s ladder (16 kHz mono AAC-LC, three variants) in
//! TS, fMP4 and packed ADTS, variant switches, and seeks by time.

use std::time::Duration;

use std::io::Read;

use kithara_decode::{Decoder, DecoderConfig, StreamMediaSource};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{AbrMode, BoundaryKind, RedactedUrl, Source, Stream, StreamOptions};
use kithara_test_support::{
    media,
    pcm::{compare, reference},
    Route,
};

use crate::common::Env;

const RATE: u32 = 16_000;
/// One AAC frame.
const FRAME: usize = 1024;
const FORMS: [&str; 3] = ["master.m3u8", "master-fmp4.m3u8", "master-adts.m3u8"];

fn open(env: &Env, master: &str, variant: usize) -> Decoder<Hls> {
    open_with(env, master, variant, |_| {})
}

fn open_with(
    env: &Env,
    master: &str,
    variant: usize,
    f: impl FnOnce(&mut HlsConfig),
) -> Decoder<Hls> {
    let url = env.server.url(&format!("/media/hls/{master}"));
    let mut config = HlsConfig::builder()
        .url(url.clone())
        .downloader(env.dl.clone())
        .abr_mode(AbrMode::Fixed(variant))
        .build();
    f(&mut config);
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
    /// The variant heard.
    variant: Option<usize>,
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
            variant: c.variant,
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

        // A short buffer, so most segments are laid out after the switch is asked for and the
        // reader runs close to the end of the layout.
        let mut d = open_with(&env, master, 0, |c| {
            c.buffer_ahead = Duration::from_millis(500);
        });
        let abr = d.with_stream(|s| s.source().abr_handle()).unwrap();
        let mut pcm = Vec::new();
        let mut chunks: Vec<Seen> = Vec::new();
        while pcm.len() < 3 * RATE as usize {
            let c = d.next_chunk().unwrap().unwrap();
            pcm.extend_from_slice(&c.samples);
            chunks.push(Seen {
                time: c.time,
                frames: c.frames(),
                variant: c.variant,
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
        assert_eq!(
            change.variant,
            Some(2),
            "{master}: the variant heard after it"
        );
        // Every chunk names the variant heard: 0 up to the switch, 2 from it on.
        let heard: Vec<_> = chunks.iter().map(|c| (c.time < at, c.variant)).collect();
        assert!(
            heard
                .iter()
                .all(|&(before, v)| v == Some(if before { 0 } else { 2 })),
            "{master}: {heard:?}"
        );
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

/// A seek by time to media not laid out yet starts a new run, which cuts the first run short; a
/// seek back into the first run's media lays it out again in a run of its own (the stream never
/// reads on from a cut run into another run's media), and the audio goes on to the end without
/// gap or overlap. Any change the decoder reports on the way is a seek jump.
#[test]
fn a_seek_back_into_a_run_cut_short_plays_on_without_a_gap() {
    let env = Env::new();
    for master in FORMS {
        let (_, linear) = decode_contiguous(&mut open(&env, master, 0));
        let mut d = open_with(&env, master, 0, |c| c.buffer_ahead = Duration::from_secs(4));
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
            jumps.iter().all(|k| *k == BoundaryKind::SeekJump),
            "{master}: only seek jumps: {jumps:?}"
        );
    }
}

/// The wrapper symphonia reads ends at a boundary: a variant switch is the end of its source.
#[test]
fn the_media_source_ends_at_a_variant_switch() {
    let env = Env::new();
    let url = env.server.url("/media/hls/master.m3u8");
    let config = HlsConfig::builder()
        .url(url)
        .downloader(env.dl.clone())
        .abr_mode(AbrMode::Fixed(0))
        .buffer_ahead(Duration::from_secs(4))
        .build();
    let mut stream = env.rt.block_on(Stream::<Hls>::new(config)).unwrap();
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).unwrap();
    stream
        .source()
        .abr_handle()
        .unwrap()
        .set_mode(AbrMode::Fixed(2));
    let mut src = StreamMediaSource::new(stream);
    let mut bytes = first.to_vec();
    src.read_to_end(&mut bytes).unwrap();
    let b = src.boundary().expect("the source ended at a boundary");
    assert_eq!(b.kind, BoundaryKind::VariantSwitch);
    assert_eq!(
        bytes.len() as u64,
        b.pos,
        "every byte up to the boundary, none after"
    );
    assert_eq!(src.read(&mut [0u8; 16]).unwrap(), 0, "and it stays ended");
    // Whole segments of variant 0.
    let mut v0 = Vec::new();
    let mut ends = Vec::new();
    for i in 0..16 {
        v0.extend_from_slice(media::get(&format!("hls/ts/v0-{i:02}.ts")).unwrap().bytes);
        ends.push(v0.len());
    }
    assert!(ends.contains(&bytes.len()), "{} bytes", bytes.len());
    assert!(bytes[..] == v0[..bytes.len()]);
}

/// A discontinuity (here: two segments of variant 0, then the first two of variant 2, whose
/// timestamps start over) gets a new reader and a new codec; the timeline goes on.
#[test]
fn a_discontinuity_gets_a_new_codec_and_the_timeline_goes_on() {
    let env = Env::new();
    let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
        #EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.048,\n/media/hls/ts/v0-00.ts\n#EXTINF:1.984,\n\
        /media/hls/ts/v0-01.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.048,\n/media/hls/ts/v2-00.ts\n\
        #EXTINF:1.984,\n/media/hls/ts/v2-01.ts\n#EXT-X-ENDLIST\n";
    env.server.route(
        "/disc.m3u8",
        Route::new(playlist.as_bytes().to_vec()).content_type("application/vnd.apple.mpegurl"),
    );
    let url = env.server.url("/disc.m3u8");
    let stream = env
        .rt
        .block_on(Stream::<Hls>::new(
            HlsConfig::builder()
                .url(url)
                .downloader(env.dl.clone())
                .build(),
        ))
        .unwrap();
    let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
    let (chunks, pcm) = decode_contiguous(&mut d);
    let half = frame_at(Duration::from_millis(4_032));
    assert_eq!(pcm.len(), 2 * half);
    let changes: Vec<_> = chunks
        .iter()
        .filter_map(|c| c.change.as_ref().map(|ch| (c.time, ch)))
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].1.kind, BoundaryKind::Discontinuity);
    assert!(!changes[0].1.codec_kept);
    assert_eq!(frame_at(changes[0].0), half);
    // Each side is its variant's own decode from the start, sample for sample.
    let (_, v0) = decode_contiguous(&mut open(&env, "master.m3u8", 0));
    let (_, v2) = decode_contiguous(&mut open(&env, "master.m3u8", 2));
    assert!(pcm[..half] == v0[..half]);
    assert!(pcm[half..] == v2[..half]);
}

/// A VOD played once through the persistent cache decodes again with its server gone, to exactly
/// the PCM of the online run.
#[test]
fn a_cached_vod_decodes_offline_to_the_pcm_of_the_online_run() {
    use kithara_storage::{AssetStore, AssetStoreConfig, StorageKind};
    use kithara_stream::dl::Downloader;

    let tmp = tempfile::tempdir().unwrap();
    let store = AssetStore::new(AssetStoreConfig::builder().dir(tmp.path()).build()).unwrap();
    let cached = || {
        StreamOptions::builder()
            .storage(StorageKind::Cache(store.clone()))
            .build()
    };
    let Env { server, dl, rt } = Env::new();
    let url = server.url("/media/hls/master-fmp4.m3u8");
    let decode = |dl: &Downloader| {
        let config = HlsConfig::builder()
            .url(url.clone())
            .downloader(dl.clone())
            .abr_mode(AbrMode::Fixed(1))
            .options(cached())
            .build();
        let stream = rt.block_on(Stream::<Hls>::new(config)).unwrap();
        let mut d = Decoder::new(
            stream,
            DecoderConfig::builder()
                .origin(RedactedUrl::new(&url))
                .build(),
        )
        .unwrap();
        let (chunks, pcm) = decode_contiguous(&mut d);
        assert_whole("cached fMP4", &d, &chunks, &pcm);
        let peer = d.with_stream(|s| s.source().peer().clone());
        drop(d);
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), peer.idle()).await })
            .expect("the stream's peer goes idle once it is dropped");
        pcm
    };
    let online = decode(&dl);
    drop(server);
    // Nothing to retry against: the server is gone.
    let offline_dl = crate::common::impatient(&rt);
    let offline = decode(&offline_dl);
    assert!(
        online == offline,
        "{} vs {} samples",
        online.len(),
        offline.len()
    );
}
