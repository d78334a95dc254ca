//! Shared set-up: server, downloader, opening and reading streams on a blocking thread.

use std::{
    io::{Read, Seek, SeekFrom},
    time::Duration,
};

use kithara_file::{File, FileConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig, PeerHandle, RetryPolicy},
    Stream,
};
use kithara_test_support::LoopbackServer;

pub const MIB: usize = 1 << 20;
/// Generous bound for event waits; a healthy run never gets near it.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn server() -> LoopbackServer {
    LoopbackServer::start().expect("test server starts")
}

/// A downloader with fast retries so fault tests stay quick.
pub fn downloader() -> Downloader {
    downloader_with(|b| b)
}

pub fn downloader_with(f: impl FnOnce(DownloaderConfig) -> DownloaderConfig) -> Downloader {
    let retry = RetryPolicy::builder()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(100))
        .build();
    Downloader::new(f(DownloaderConfig::builder()
        .retry(retry)
        .system_proxy(false)
        .build()))
    .expect("the HTTP client builds")
}

pub async fn open(
    dl: &Downloader,
    url: url::Url,
    f: impl FnOnce(&mut FileConfig),
) -> kithara_stream::Result<Stream<File>> {
    let mut config = FileConfig::remote(url, dl.clone()).build();
    f(&mut config);
    Stream::<File>::new(config).await
}

/// A config of `url` kept in the persistent cache `store`.
pub fn cached_config(
    url: url::Url,
    dl: &Downloader,
    store: &kithara_storage::AssetStore,
) -> kithara_file::FileConfig {
    let storage = kithara_file::StorageKind::Cache(store.clone());
    FileConfig::remote(url, dl.clone())
        .options(
            kithara_stream::StreamOptions::builder()
                .storage(storage)
                .build(),
        )
        .build()
}

/// Reads the stream to its end on a blocking thread (a `Stream` must not be read inside a task).
pub async fn read_all(mut s: Stream<File>) -> (Stream<File>, std::io::Result<Vec<u8>>) {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let r = s.read_to_end(&mut out).map(|_| out);
        (s, r)
    })
    .await
    .unwrap()
}

/// Seeks and reads exactly `len` bytes (or to the end) on a blocking thread.
pub async fn read_at(
    mut s: Stream<File>,
    pos: u64,
    len: usize,
) -> (Stream<File>, std::io::Result<Vec<u8>>) {
    tokio::task::spawn_blocking(move || {
        let r = (|| {
            s.seek(SeekFrom::Start(pos))?;
            let mut buf = Vec::with_capacity(len);
            (&mut s).take(len as u64).read_to_end(&mut buf)?;
            Ok(buf)
        })();
        (s, r)
    })
    .await
    .unwrap()
}

/// Drops the stream, waits for its peer to go idle, and checks every command reported exactly once.
pub async fn close(s: Stream<File>) -> PeerHandle {
    let peer = s
        .source()
        .peer()
        .cloned()
        .expect("remote stream has a peer");
    drop(s);
    tokio::time::timeout(PATIENCE, peer.idle())
        .await
        .expect("peer goes idle after the stream is dropped");
    assert_eq!(peer.active_commands(), 0);
    assert_eq!(
        peer.commands_issued(),
        peer.completions_reported(),
        "every command's on_complete ran exactly once"
    );
    peer
}

/// The typed kithara error inside an `io::Error` from `Read`/`Seek`.
pub fn kithara_error(e: &std::io::Error) -> &kithara_stream::Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<kithara_stream::Error>())
        .unwrap_or_else(|| panic!("io error without a kithara error inside: {e:?}"))
}
