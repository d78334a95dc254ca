//! Decode speed through `Stream<File>` over loopback HTTP against decoding the same file from disk
//! with plain symphonia (the ratio is the figure); decode speed through `Stream<Hls>` over
//! loopback against decoding the same segments, concatenated into a local file, through
//! `Stream<File>` (goal ≥ 0.95×); and time to the first PCM of an MP3 and of the HLS ladder (TS
//! and fMP4) behind 50 ms of added latency on every response.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{hint::black_box, io::Write, time::Duration};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{File, FileConfig};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    AbrMode, Stream,
};
use kithara_test_support::{media, LoopbackServer, Route};
use symphonia::core::{
    codecs::audio::AudioDecoderOptions,
    formats::{probe::Hint, FormatOptions, TrackType},
    io::MediaSourceStream,
    meta::MetadataOptions,
};

/// About 1 MiB of MP3 (~2 min): the fixture's audio frames repeated after its ID3v2 tag.
fn long_mp3() -> Vec<u8> {
    let src = media::get("chirp.mp3").unwrap().bytes;
    let id3 = 10
        + (usize::from(src[6]) << 21
            | usize::from(src[7]) << 14
            | usize::from(src[8]) << 7
            | usize::from(src[9]));
    // MPEG-2 layer III at 64 kbit/s, 22.05 kHz: 208 or 209 bytes a frame; skip the Info frame.
    let frame_len = |h: &[u8]| 72 * 64_000 / 22_050 + usize::from((h[2] >> 1) & 1);
    let mut at = id3 + frame_len(&src[id3..]);
    let start = at;
    while at + 4 <= src.len() && at + frame_len(&src[at..]) <= src.len() {
        at += frame_len(&src[at..]);
    }
    let mut out = src[..id3].to_vec();
    while out.len() < 1 << 20 {
        out.extend_from_slice(&src[start..at]);
    }
    out
}

/// About 10 MiB of 16-bit WAV (~2 min): the fixture's PCM repeated under one `data` chunk. PCM
/// decoding costs next to nothing, so this case measures the transport.
fn long_wav() -> Vec<u8> {
    let src = media::get("chirp.wav").unwrap().bytes;
    // ffmpeg's bit-exact WAV: a 44-byte header, then the data.
    let (header, data) = src.split_at(44);
    assert_eq!(&header[36..40], b"data");
    let mut body = Vec::with_capacity(10 << 20);
    while body.len() + data.len() <= 10 << 20 {
        body.extend_from_slice(data);
    }
    let mut out = header.to_vec();
    out[4..8].copy_from_slice(&u32::try_from(36 + body.len()).unwrap().to_le_bytes());
    out[40..44].copy_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Plain symphonia over a local file: the baseline.
fn decode_local(path: &std::path::Path) -> usize {
    let file = std::fs::File::open(path).unwrap();
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .unwrap();
    let track = format.default_track(TrackType::Audio).unwrap();
    let id = track.id;
    let params = track.codec_params.clone().unwrap().audio().unwrap().clone();
    let mut dec = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .unwrap();
    let mut samples = Vec::new();
    let mut n = 0;
    while let Ok(Some(p)) = format.next_packet() {
        if p.track_id == id {
            let buf = dec.decode(&p).unwrap();
            buf.copy_to_vec_interleaved::<f32>(&mut samples);
            n += samples.len();
        }
    }
    n
}

struct Bench {
    server: LoopbackServer,
    dl: Downloader,
    rt: tokio::runtime::Runtime,
}

impl Bench {
    fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dl = {
            let _g = rt.enter();
            Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap()
        };
        let server = LoopbackServer::start().unwrap();
        server.mount_media("/media");
        Self { server, dl, rt }
    }

    fn open(&self, path: &str) -> Stream<File> {
        let config = FileConfig::remote(self.server.url(path), self.dl.clone()).build();
        self.rt.block_on(Stream::<File>::new(config)).unwrap()
    }

    fn decode_remote(&self, path: &str) -> usize {
        let mut d = Decoder::new(self.open(path), DecoderConfig::default()).unwrap();
        let mut n = 0;
        while let Some(c) = d.next_chunk().unwrap() {
            n += c.samples.len();
        }
        n
    }
}

fn decode_speed(c: &mut Criterion) {
    let b = Bench::new();
    let mp3 = long_mp3();
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(&mp3).unwrap();
    b.server.route(
        "/long.mp3",
        Route::new(mp3.clone()).content_type("audio/mpeg"),
    );
    let wav = long_wav();
    let mut wav_tmp = tempfile::NamedTempFile::new().unwrap();
    wav_tmp.write_all(&wav).unwrap();
    b.server.route(
        "/long.wav",
        Route::new(wav.clone()).content_type("audio/wav"),
    );
    let cases = [
        (
            "wav_10mib",
            "/long.wav".to_owned(),
            wav_tmp.path().to_owned(),
            wav.len(),
        ),
        (
            "mp3_1mib",
            "/long.mp3".to_owned(),
            tmp.path().to_owned(),
            mp3.len(),
        ),
        (
            "flac_4s",
            "/media/chirp.flac".to_owned(),
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../kithara-loopback/media/chirp.flac"),
            media::get("chirp.flac").unwrap().bytes.len(),
        ),
        (
            "aac_m4a_4s",
            "/media/chirp.m4a".to_owned(),
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../kithara-loopback/media/chirp.m4a"),
            media::get("chirp.m4a").unwrap().bytes.len(),
        ),
    ];
    for (name, url_path, local, bytes) in &cases {
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Bytes(*bytes as u64));
        g.bench_function("local_symphonia", |bench| {
            bench.iter(|| black_box(decode_local(local)))
        });
        g.bench_function("stream_loopback", |bench| {
            bench.iter(|| black_box(b.decode_remote(url_path)))
        });
        // The read path alone: the stream fully downloaded before the clock starts, so the
        // download does not compete with the decoder for the CPU.
        g.bench_function("stream_downloaded", |bench| {
            bench.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let s = b.open(url_path);
                    let storage = s.source().storage().unwrap();
                    let outcome = storage
                        .wait_range(0..*bytes as u64, Duration::from_secs(30))
                        .unwrap();
                    assert_eq!(outcome, kithara_storage::WaitOutcome::Ready);
                    let started = std::time::Instant::now();
                    let mut d = Decoder::new(s, DecoderConfig::default()).unwrap();
                    let mut n = 0;
                    while let Some(c) = d.next_chunk().unwrap() {
                        n += c.samples.len();
                    }
                    spent += started.elapsed();
                    black_box(n);
                }
                spent
            })
        });
        // The transport alone: the same stream read to its end, no decoding.
        g.bench_function("stream_read_only", |bench| {
            bench.iter(|| {
                let mut s = b.open(url_path);
                let mut sink = Vec::with_capacity(*bytes);
                std::io::Read::read_to_end(&mut s, &mut sink).unwrap();
                black_box(sink.len())
            })
        });
        g.finish();
    }
}

/// Variant 0 of the bundled ladder in one form: its init section (fMP4) and every segment in
/// playlist order, concatenated, as the local-file baseline holds them.
fn concat_variant(dir: &str) -> Vec<u8> {
    let playlist = media::get(&format!("hls/{dir}/v0.m3u8")).unwrap().bytes;
    let playlist = std::str::from_utf8(playlist).unwrap();
    let mut out = Vec::new();
    for line in playlist.lines() {
        let uri = if let Some(map) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            map.trim_end_matches('"')
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            line
        };
        out.extend_from_slice(media::get(&format!("hls/{dir}/{uri}")).unwrap().bytes);
    }
    out
}

/// Decodes a whole stream; returns the sample count.
fn decode_all<T: kithara_stream::StreamType>(stream: Stream<T>) -> usize {
    let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
    let mut n = 0;
    while let Some(c) = d.next_chunk().unwrap() {
        n += c.samples.len();
    }
    n
}

/// The HLS ladder's variant 0 through `Stream<Hls>` over loopback against the same segments from
/// a local file through `Stream<File>`: the cost of the segmented transport (playlists, one
/// request per segment, the layout, a format reader per window).
fn decode_speed_hls(c: &mut Criterion) {
    let b = Bench::new();
    for (name, dir, master) in [
        ("ts", "ts", "master.m3u8"),
        ("fmp4", "fmp4", "master-fmp4.m3u8"),
    ] {
        let bytes = concat_variant(dir);
        let mut local = tempfile::NamedTempFile::new().unwrap();
        local.write_all(&bytes).unwrap();
        let path = local.path().to_owned();
        let url = b.server.url(&format!("/media/hls/{master}"));
        let open_local = || {
            let config = FileConfig::local(path.clone()).build();
            b.rt.block_on(Stream::<File>::new(config)).unwrap()
        };
        let open_hls = || {
            let config = HlsConfig::builder()
                .url(url.clone())
                .downloader(b.dl.clone())
                .abr_mode(AbrMode::Fixed(0))
                .build();
            b.rt.block_on(Stream::<Hls>::new(config)).unwrap()
        };
        // Both decode the same audio.
        assert_eq!(decode_all(open_local()), decode_all(open_hls()), "{name}");
        let mut g = c.benchmark_group(format!("decode/hls_{name}_30s"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("local_file", |bench| {
            bench.iter(|| black_box(decode_all(open_local())))
        });
        g.bench_function("stream_hls", |bench| {
            bench.iter(|| black_box(decode_all(open_hls())))
        });
        // The read path alone: every segment laid out and present before the clock starts, so
        // the requests do not count (30 s of 20 kbit/s audio decode in about as long as the
        // playlists and segments take to arrive over loopback).
        g.bench_function("stream_hls_downloaded", |bench| {
            bench.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let mut s = open_hls();
                    let mut all = Vec::with_capacity(bytes.len());
                    std::io::Read::read_to_end(&mut s, &mut all).unwrap();
                    assert_eq!(all.len(), bytes.len(), "{name}");
                    let started = std::time::Instant::now();
                    black_box(decode_all(s));
                    spent += started.elapsed();
                }
                spent
            })
        });
        g.finish();
    }
}

fn time_to_first_pcm(c: &mut Criterion) {
    let b = Bench::new();
    let mp3 = media::get("chirp.mp3").unwrap().bytes;
    b.server.route(
        "/slow.mp3",
        Route::new(mp3)
            .content_type("audio/mpeg")
            .latency(Duration::from_millis(50)),
    );
    c.bench_function("first_pcm/mp3_latency_50ms", |bench| {
        bench.iter(|| {
            let mut d = Decoder::new(b.open("/slow.mp3"), DecoderConfig::default()).unwrap();
            black_box(d.next_chunk().unwrap().unwrap().frames())
        })
    });
}

fn time_to_first_pcm_hls(c: &mut Criterion) {
    let b = Bench::new();
    // Every playlist, init section and segment of the bundled ladder answers 50 ms late.
    for f in media::FILES.iter().filter(|f| f.name.starts_with("hls/")) {
        b.server.route(
            &format!("/media/{}", f.name),
            f.route().latency(Duration::from_millis(50)),
        );
    }
    for (name, master) in [("ts", "master.m3u8"), ("fmp4", "master-fmp4.m3u8")] {
        let url = b.server.url(&format!("/media/hls/{master}"));
        c.bench_function(&format!("first_pcm/hls_{name}_latency_50ms"), |bench| {
            bench.iter(|| {
                let config = HlsConfig::builder()
                    .url(url.clone())
                    .downloader(b.dl.clone())
                    .build();
                let stream = b.rt.block_on(Stream::<Hls>::new(config)).unwrap();
                let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
                black_box(d.next_chunk().unwrap().unwrap().frames())
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = decode_speed, decode_speed_hls, time_to_first_pcm, time_to_first_pcm_hls
}
criterion_main!(benches);
