//! [`FileConfig`]: what to open and how.

use std::{path::PathBuf, time::Duration};

use http::{HeaderMap, HeaderName, HeaderValue};
use kithara_stream::{dl::Downloader, MediaInfo};
use tokio_util::sync::CancellationToken;
use url::Url;

/// Where the bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileSrc {
    /// A progressive HTTP(S) resource, fetched through the [`Downloader`].
    Remote(Url),
    /// A local file, read in place (no copy, no downloader).
    Local(PathBuf),
}

impl FileSrc {
    /// `Remote` for an `http`/`https` URL, `Local` for anything else (a path, or a `file://` URL).
    pub fn parse(s: &str) -> Self {
        match Url::parse(s) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Self::Remote(u),
            Ok(u) if u.scheme() == "file" => match u.to_file_path() {
                Ok(p) => Self::Local(p),
                Err(()) => Self::Local(PathBuf::from(s)),
            },
            _ => Self::Local(PathBuf::from(s)),
        }
    }
}

/// Where downloaded bytes are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageKind {
    /// In memory (pages allocated as bytes arrive).
    Memory,
    /// A sparse anonymous temporary file, deleted when the stream is dropped. The default: a 1 GiB
    /// stream does not live in RAM.
    #[default]
    TempFile,
    /// A sparse file at this path, created (or truncated) and written in place.
    Disk(PathBuf),
}

/// Configuration of a [`File`](crate::File) stream. Build with [`FileConfig::new`] and the by-value setters.
///
/// ```
/// use std::time::Duration;
/// use kithara_file::{FileConfig, FileSrc, StorageKind};
/// let config = FileConfig::new(FileSrc::parse("http://127.0.0.1:8080/song.mp3"))
///     .storage(StorageKind::Memory)
///     .wait_timeout(Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileConfig {
    /// Where the bytes come from.
    pub src: FileSrc,
    /// The shared downloader. Default: a new one with default settings (share one across streams instead).
    pub downloader: Option<Downloader>,
    /// Where downloaded bytes are kept. Default: [`StorageKind::TempFile`].
    pub storage: StorageKind,
    /// Extra request headers (auth, cookies). Default: none.
    pub headers: HeaderMap,
    /// Bytes to download ahead of the reader before pausing (at least 64 KiB is used); `None`
    /// downloads the whole file. Default: `None`.
    pub buffer_ahead: Option<u64>,
    /// How far beyond the downloaded frontier a seek may land before the running request is
    /// cancelled and a new one starts at the seek target; nearer targets just wait. Default: 256 KiB.
    pub seek_threshold: u64,
    /// Longest time one read waits for bytes before it fails with a timeout error. Default: 30 s.
    pub wait_timeout: Duration,
    /// Parent cancellation token (a player's or queue's); default: a child of the downloader's root.
    pub cancel: Option<CancellationToken>,
    /// Format hints to report before (or instead of) what `Content-Type` and the extension say.
    pub media_info: Option<MediaInfo>,
    /// Capacity of the events channel; slow receivers skip. Default: 64.
    pub events_capacity: usize,
}

impl FileConfig {
    /// A configuration with defaults for `src`.
    pub fn new(src: FileSrc) -> Self {
        Self {
            src,
            downloader: None,
            storage: StorageKind::default(),
            headers: HeaderMap::new(),
            buffer_ahead: None,
            seek_threshold: 256 * 1024,
            wait_timeout: Duration::from_secs(30),
            cancel: None,
            media_info: None,
            events_capacity: 64,
        }
    }

    /// Uses this shared downloader.
    #[must_use]
    pub fn downloader(mut self, downloader: Downloader) -> Self {
        self.downloader = Some(downloader);
        self
    }

    /// Keeps downloaded bytes here.
    #[must_use]
    pub fn storage(mut self, storage: StorageKind) -> Self {
        self.storage = storage;
        self
    }

    /// Adds a request header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Downloads at most `bytes` ahead of the reader.
    #[must_use]
    pub fn buffer_ahead(mut self, bytes: u64) -> Self {
        self.buffer_ahead = Some(bytes);
        self
    }

    /// Sets the seek distance that restarts the download at the target.
    #[must_use]
    pub fn seek_threshold(mut self, bytes: u64) -> Self {
        self.seek_threshold = bytes;
        self
    }

    /// Sets the per-read wait budget.
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Makes the stream's cancellation token a child of `parent`.
    #[must_use]
    pub fn cancel_token(mut self, parent: CancellationToken) -> Self {
        self.cancel = Some(parent);
        self
    }

    /// Supplies format hints.
    #[must_use]
    pub fn media_info(mut self, info: MediaInfo) -> Self {
        self.media_info = Some(info);
        self
    }

    /// Sets the events channel capacity.
    #[must_use]
    pub fn events_capacity(mut self, capacity: usize) -> Self {
        self.events_capacity = capacity.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn src_parsing() {
        assert!(matches!(
            FileSrc::parse("https://h/a.mp3"),
            FileSrc::Remote(_)
        ));
        assert_eq!(
            FileSrc::parse("/tmp/a.mp3"),
            FileSrc::Local(PathBuf::from("/tmp/a.mp3"))
        );
        assert_eq!(
            FileSrc::parse("file:///tmp/a.mp3"),
            FileSrc::Local(PathBuf::from("/tmp/a.mp3"))
        );
        assert_eq!(
            FileSrc::parse("song.flac"),
            FileSrc::Local(PathBuf::from("song.flac"))
        );
    }
}
