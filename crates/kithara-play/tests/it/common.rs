//! Shared set-up: the loopback server with the bundled media, reference decodes made with
//! kithara-decode directly, event waits with a deadline, WAV reading.

use std::{path::Path, time::Duration, time::Instant};

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{File, FileConfig};
use kithara_hls::{Hls, HlsConfig};
use kithara_play::{CacheChoice, Event, Events, PlayerConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use kithara_test_support::LoopbackServer;

/// Longest wait for an event before a test fails (generous: a busy machine is slow, never wrong).
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn server() -> LoopbackServer {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    server
}

/// A player configuration that ignores the environment's proxies (fields may be changed).
pub fn config() -> PlayerConfig {
    PlayerConfig::builder()
        .downloader(DownloaderConfig::builder().system_proxy(false).build())
        .cache(CacheChoice::Off)
        .build()
}

/// Interleaved samples with their format.
#[derive(Debug, Clone)]
pub struct Pcm {
    pub samples: Vec<f32>,
    pub rate: u32,
    pub channels: u16,
}

impl Pcm {
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels)
    }
}

/// The whole decode of `path` on `server`, by kithara-decode alone (HLS for `.m3u8`).
pub fn decode(server: &LoopbackServer, path: &str) -> Pcm {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dl = {
        let _g = rt.enter();
        Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap()
    };
    let url = server.url(path);
    let mut out = Pcm {
        samples: Vec::new(),
        rate: 0,
        channels: 0,
    };
    let mut take = |chunk: kithara_decode::PcmChunk| {
        out.rate = chunk.sample_rate;
        out.channels = chunk.channels;
        out.samples.extend_from_slice(&chunk.samples);
    };
    if path.ends_with(".m3u8") {
        let config = HlsConfig::builder().url(url).downloader(dl).build();
        let stream = rt.block_on(Stream::<Hls>::new(config)).unwrap();
        let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
        while let Some(c) = d.next_chunk().unwrap() {
            take(c);
        }
    } else {
        let config = FileConfig::remote(url, dl).build();
        let stream = rt.block_on(Stream::<File>::new(config)).unwrap();
        let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
        while let Some(c) = d.next_chunk().unwrap() {
            take(c);
        }
    }
    out
}

/// Reads every event until one satisfies `done`; returns them all (that one last). Fails the
/// test after [`DEADLINE`].
pub fn wait_for(events: &Events, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("no such event within {DEADLINE:?}; saw {seen:#?}"));
        let Some(e) = events.recv_timeout(left) else {
            panic!("no such event within {DEADLINE:?}; saw {seen:#?}");
        };
        let stop = done(&e);
        seen.push(e);
        if stop {
            return seen;
        }
    }
}

/// A float WAV's samples and format.
pub fn read_wav(path: &Path) -> Pcm {
    let reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples = reader
        .into_samples::<f32>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    Pcm {
        samples,
        rate: spec.sample_rate,
        channels: spec.channels,
    }
}
