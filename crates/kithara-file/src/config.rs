//! [`FileConfig`]: what to open and how.

use std::{path::PathBuf, time::Duration};

use http::{HeaderMap, HeaderName, HeaderValue};
use kithara_storage::{AssetStore, StorageKind};
use kithara_stream::{dl::Downloader, MediaInfo};
use tokio_util::sync::CancellationToken;
use url::Url;

/// Where the bytes come from.
///
/// Parse user input with [`str::parse`] (`"https://…".parse::<FileSrc>()?`): `http`/`https` URLs
/// are remote, `file://` URLs and plain paths are local, and any other scheme (a typo such as
/// `htps://`) is an error instead of a path that fails later.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileSrc {
    /// A progressive HTTP(S) resource, fetched through the [`Downloader`].
    Remote(Url),
    /// A local file, read in place (no copy, no downloader).
    Local(PathBuf),
}

/// Why a string is not a [`FileSrc`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrcError {
    /// A URL whose scheme kithara cannot fetch.
    #[error("unsupported URL scheme {scheme:?} in {input:?}: use http, https, file or a path")]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The input, with any query and credentials removed.
        input: String,
    },
    /// A `file://` URL that names no local path.
    #[error("{input:?} is not a local file path")]
    NotAPath {
        /// The input.
        input: String,
    },
    /// An empty string.
    #[error("an empty string names no source")]
    Empty,
}

impl std::str::FromStr for FileSrc {
    type Err = SrcError;

    fn from_str(s: &str) -> Result<Self, SrcError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SrcError::Empty);
        }
        // Only something that looks like `scheme://…` is taken as a URL, so Windows paths
        // (`C:\music\a.mp3`) and names with colons stay paths.
        if !s.contains("://") {
            return Ok(Self::Local(PathBuf::from(s)));
        }
        let url = Url::parse(s).map_err(|_| SrcError::UnsupportedScheme {
            scheme: s.split("://").next().unwrap_or_default().to_owned(),
            input: String::from("<unparsable URL>"),
        })?;
        match url.scheme() {
            "http" | "https" => Ok(Self::Remote(url)),
            "file" => url
                .to_file_path()
                .map(Self::Local)
                .map_err(|()| SrcError::NotAPath {
                    input: s.to_owned(),
                }),
            other => Err(SrcError::UnsupportedScheme {
                scheme: other.to_owned(),
                input: kithara_stream::redact_url(&url).to_string(),
            }),
        }
    }
}

impl From<Url> for FileSrc {
    /// `file://` URLs become local paths when they name one; every other URL is remote (a
    /// scheme the downloader cannot fetch then fails when the stream opens).
    fn from(url: Url) -> Self {
        if url.scheme() == "file" {
            if let Ok(p) = url.to_file_path() {
                return Self::Local(p);
            }
        }
        Self::Remote(url)
    }
}

impl From<PathBuf> for FileSrc {
    fn from(path: PathBuf) -> Self {
        Self::Local(path)
    }
}

impl From<&std::path::Path> for FileSrc {
    fn from(path: &std::path::Path) -> Self {
        Self::Local(path.to_path_buf())
    }
}

/// Configuration of a [`File`](crate::File) stream. Build with [`FileConfig::new`] and the by-value setters.
///
/// Remote sources need the application's shared [`Downloader`] (`.downloader(dl.clone())`):
/// a config never builds an HTTP client of its own, so every stream shares one pool. Opening a
/// remote source without one fails with [`Error::NoDownloader`](kithara_stream::Error::NoDownloader).
///
/// ```
/// use std::time::Duration;
/// use kithara_file::{FileConfig, FileSrc, StorageKind};
/// use kithara_stream::dl::{Downloader, DownloaderConfig};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dl = Downloader::new(DownloaderConfig::default())?; // one per application
/// let src: FileSrc = "http://127.0.0.1:8080/song.mp3".parse()?;
/// let config = FileConfig::new(src)
///     .downloader(dl.clone())
///     .storage(StorageKind::Memory)
///     .wait_timeout(Duration::from_secs(5));
/// # let _ = config; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileConfig {
    /// Where the bytes come from.
    pub src: FileSrc,
    /// The application's shared downloader; required for remote sources. Default: none.
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
    /// Channel to send the stream's events to. Subscribe before `Stream::new` to see the events
    /// of opening ([`FileEvent::FromCache`](crate::FileEvent::FromCache),
    /// [`VersionChanged`](crate::FileEvent::VersionChanged),
    /// [`RevalidationFailed`](crate::FileEvent::RevalidationFailed)). Default: a new channel of
    /// `events_capacity`.
    pub events: Option<tokio::sync::broadcast::Sender<crate::FileEvent>>,
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
            events: None,
        }
    }

    /// Uses the application's shared downloader (pass a clone; all streams share its pool).
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

    /// Keeps downloaded bytes in the persistent cache `store`
    /// ([`StorageKind::Cache`]): a file read once opens again with no request (offline-first,
    /// or validated within the store's `metadata_freshness`) or after a `HEAD` that confirms the
    /// version; a partly cached file fetches only its missing ranges, with `If-Range`.
    #[must_use]
    pub fn cache(mut self, store: AssetStore) -> Self {
        self.storage = StorageKind::Cache(store);
        self
    }

    /// Sends the stream's events to `sender` (subscribe first to see the events of opening).
    #[must_use]
    pub fn event_sender(
        mut self,
        sender: tokio::sync::broadcast::Sender<crate::FileEvent>,
    ) -> Self {
        self.events = Some(sender);
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
            "https://h/a.mp3".parse::<FileSrc>(),
            Ok(FileSrc::Remote(_))
        ));
        assert_eq!(
            "/tmp/a.mp3".parse::<FileSrc>(),
            Ok(FileSrc::Local(PathBuf::from("/tmp/a.mp3")))
        );
        assert_eq!(
            "file:///tmp/a.mp3".parse::<FileSrc>(),
            Ok(FileSrc::Local(PathBuf::from("/tmp/a.mp3")))
        );
        assert_eq!(
            "song.flac".parse::<FileSrc>(),
            Ok(FileSrc::Local(PathBuf::from("song.flac")))
        );
        assert_eq!(
            r"C:\music\a.mp3".parse::<FileSrc>(),
            Ok(FileSrc::Local(PathBuf::from(r"C:\music\a.mp3")))
        );
        match "htps://user:pw@h/a.mp3?token=s".parse::<FileSrc>() {
            Err(SrcError::UnsupportedScheme { scheme, input }) => {
                assert_eq!(scheme, "htps");
                assert!(!input.contains("pw") && !input.contains("token"), "{input}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!("  ".parse::<FileSrc>(), Err(SrcError::Empty));
        let u = Url::parse("file:///tmp/x.wav").unwrap();
        assert_eq!(
            FileSrc::from(u),
            FileSrc::Local(PathBuf::from("/tmp/x.wav"))
        );
        assert_eq!(
            FileSrc::from(PathBuf::from("a.mp3")),
            FileSrc::Local(PathBuf::from("a.mp3"))
        );
    }
}
