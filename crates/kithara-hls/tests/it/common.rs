//! Shared set-up: the server with the bundled media, a downloader, reading on a blocking thread.

use std::{io::Read, time::Duration};

use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use kithara_test_support::{media, LoopbackServer};

pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn server() -> LoopbackServer {
    let s = LoopbackServer::start().expect("server starts");
    s.mount_media("/media");
    s
}

pub fn downloader() -> Downloader {
    Downloader::new(DownloaderConfig::builder().system_proxy(false).build())
        .expect("the HTTP client builds")
}

pub async fn open(
    dl: &Downloader,
    url: url::Url,
    f: impl FnOnce(&mut HlsConfig),
) -> kithara_stream::Result<Stream<Hls>> {
    let mut config = HlsConfig::builder().url(url).downloader(dl.clone()).build();
    f(&mut config);
    Stream::<Hls>::new(config).await
}

/// The URIs a bundled media playlist lists, in order.
pub fn playlist_uris(name: &str) -> Vec<String> {
    let text = std::str::from_utf8(media::get(name).expect("bundled playlist").bytes).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The bytes of a bundled file.
pub fn file(name: &str) -> &'static [u8] {
    media::get(name)
        .unwrap_or_else(|| panic!("no bundled {name}"))
        .bytes
}

/// Reads the stream to its end on a blocking thread.
pub async fn read_all(mut s: Stream<Hls>) -> (Stream<Hls>, std::io::Result<Vec<u8>>) {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let r = s.read_to_end(&mut out).map(|_| out);
        (s, r)
    })
    .await
    .unwrap()
}

/// A channel for a stream's events, subscribed before the stream opens: give the sender to
/// `StreamOptions::events` of `HlsConfig::options`, so no event of opening or of the first fetches is missed.
pub fn event_channel() -> (
    tokio::sync::broadcast::Sender<kithara_hls::HlsEvent>,
    tokio::sync::broadcast::Receiver<kithara_hls::HlsEvent>,
) {
    tokio::sync::broadcast::channel(4096)
}

/// What a fixed-variant read of `playlist` must produce: the init (if any), then every segment.
pub fn expected(dir: &str, playlist: &str, init: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(i) = init {
        out.extend_from_slice(file(&format!("hls/{dir}/{i}")));
    }
    for uri in playlist_uris(&format!("hls/{dir}/{playlist}")) {
        out.extend_from_slice(file(&format!("hls/{dir}/{uri}")));
    }
    out
}
