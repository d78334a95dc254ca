//! Shared set-up: a runtime, the loopback server with the bundled media, a downloader, and decoding
//! helpers (ours and plain symphonia's).

use std::path::PathBuf;

use kithara_decode::{Decoder, DecoderConfig, Error};
use kithara_file::{File, FileConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    RedactedUrl, Stream,
};
use kithara_test_support::LoopbackServer;
use symphonia::core::{
    codecs::audio::AudioDecoderOptions,
    formats::{probe::Hint, FormatOptions, TrackType},
    io::MediaSourceStream,
    meta::MetadataOptions,
};

/// Every single-file fixture that decodes.
pub const FORMATS: &[&str] = &[
    "chirp.mp3",
    "chirp.aac",
    "chirp.m4a",
    "chirp-faststart.m4a",
    "chirp-frag.mp4",
    "chirp.flac",
    "chirp.wav",
    "chirp.ogg",
    "chirp.ts",
];

pub struct Env {
    pub server: LoopbackServer,
    pub dl: Downloader,
    // Dropped last: the downloader's tasks run on it.
    pub rt: tokio::runtime::Runtime,
}

/// The one place a downloader is built, so a change of its constructor touches one line.
fn downloader() -> Downloader {
    Downloader::new(DownloaderConfig::builder().system_proxy(false).build())
        .expect("the HTTP client builds")
}

impl Env {
    pub fn new() -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dl = {
            let _g = rt.enter();
            downloader()
        };
        let server = LoopbackServer::start().unwrap();
        server.mount_media("/media");
        Env { server, dl, rt }
    }

    pub fn open_with(
        &self,
        path: &str,
        f: impl FnOnce(&mut FileConfig),
    ) -> kithara_stream::Result<Stream<File>> {
        let url = self.server.url(path);
        let mut config = FileConfig::remote(url, self.dl.clone()).build();
        f(&mut config);
        self.rt.block_on(Stream::<File>::new(config))
    }

    /// A decoder over `/media/{name}` fetched over HTTP.
    pub fn remote(&self, name: &str) -> Decoder<File> {
        self.remote_path(&format!("/media/{name}")).unwrap()
    }

    pub fn remote_path(&self, path: &str) -> Result<Decoder<File>, Error> {
        let stream = self.open_with(path, |_| {}).unwrap();
        let origin = RedactedUrl::new(&self.server.url(path));
        Decoder::new(stream, DecoderConfig::builder().origin(origin).build())
    }

    /// A decoder over the same fixture read from disk.
    pub fn local(&self, name: &str) -> Decoder<File> {
        let config = FileConfig::local(media_path(name)).build();
        let stream = self.rt.block_on(Stream::<File>::new(config)).unwrap();
        Decoder::new(stream, DecoderConfig::default()).unwrap()
    }
}

/// A downloader that does not retry (nothing to retry against: a refused connection, a server
/// that is gone), built on `rt`.
pub fn impatient(rt: &tokio::runtime::Runtime) -> Downloader {
    let _g = rt.enter();
    Downloader::new(
        DownloaderConfig::builder()
            .system_proxy(false)
            .retry(
                kithara_stream::dl::RetryPolicy::builder()
                    .max_attempts(1)
                    .build(),
            )
            .build(),
    )
    .unwrap()
}

pub fn media_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kithara-loopback/media")
        .join(name)
}

/// Decodes to the end: all samples, then the error that ended decoding, if any.
pub fn decode_all(d: &mut Decoder<File>) -> (Vec<f32>, Option<Error>) {
    let mut out = Vec::new();
    loop {
        match d.next_chunk() {
            Ok(Some(c)) => out.extend_from_slice(&c.samples),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Reads at least `frames` frames (fewer at the end); checks that the first chunk starts at `at`.
pub fn read_frames(d: &mut Decoder<File>, frames: usize) -> (Vec<f32>, std::time::Duration) {
    let mut out = Vec::new();
    let mut first = None;
    let ch = usize::from(d.info().channels);
    while out.len() < frames * ch {
        match d.next_chunk().unwrap() {
            Some(c) => {
                first.get_or_insert(c.time);
                out.extend_from_slice(&c.samples);
            }
            None => break,
        }
    }
    out.truncate(frames * ch);
    (out, first.unwrap_or_default())
}

/// Plain symphonia decoding a file from disk: default probe, default track, every packet decoded,
/// delay and padding trimmed as the packets declare (what `Decoder` does with `gapless`).
pub fn symphonia_decode(name: &str) -> Vec<f32> {
    let file = std::fs::File::open(media_path(name)).unwrap();
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
    let mut out = Vec::new();
    while let Ok(Some(p)) = format.next_packet() {
        if p.track_id != id {
            continue;
        }
        let buf = dec.decode(&p).unwrap();
        let ch = buf.spec().channels().count();
        let mut s = Vec::new();
        buf.copy_to_vec_interleaved::<f32>(&mut s);
        let (ts, te) = (p.trim_start.get() as usize, p.trim_end.get() as usize);
        if ts + te > 0 && s.len() / ch == p.dur.get() as usize + ts + te {
            s.truncate(s.len() - te * ch);
            s.drain(..ts * ch);
        }
        out.extend_from_slice(&s);
    }
    out
}
