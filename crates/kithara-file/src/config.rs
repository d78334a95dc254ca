//! [`FileConfig`]: what to open and how.

use std::path::PathBuf;

use kithara_stream::{dl::Downloader, MediaInfo, StreamOptions};
use url::Url;

use crate::FileEvent;

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

/// Configuration of a [`File`](crate::File) stream: a `bon` builder started from the origin.
///
/// A remote origin needs the application's shared [`Downloader`] to start the builder at all
/// ([`FileConfig::remote`], or [`FileConfig::from_src`] for parsed input): a config never builds
/// an HTTP client of its own, so every stream shares one pool. A local path needs none
/// ([`FileConfig::local`]). The options every protocol shares (storage, headers, wait budget,
/// cancel token, events channel) are one [`StreamOptions`] in [`options`](Self::options).
///
/// ```
/// use std::time::Duration;
/// use kithara_file::{FileConfig, FileSrc, StorageKind};
/// use kithara_stream::{dl::{Downloader, DownloaderConfig}, StreamOptions};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dl = Downloader::new(DownloaderConfig::default())?; // one per application
/// let src: FileSrc = "http://127.0.0.1:8080/song.mp3".parse()?;
/// let config = FileConfig::from_src(src, &dl)
///     .options(
///         StreamOptions::builder()
///             .storage(StorageKind::Memory)
///             .wait_timeout(Duration::from_secs(5))
///             .build(),
///     )
///     .buffer_ahead(4 << 20)
///     .build();
/// # let _ = config; Ok(()) }
/// ```
///
/// A remote source without a downloader does not compile:
///
/// ```compile_fail
/// use kithara_file::FileConfig;
/// let config = FileConfig::remote("https://cdn.example/song.mp3".parse().unwrap()).build();
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[builder(start_fn(name = with_origin, vis = ""))]
#[non_exhaustive]
pub struct FileConfig {
    #[builder(start_fn)]
    origin: Origin,
    /// The options every protocol shares. Default: [`StreamOptions::default`] (storage: a
    /// temporary file).
    #[builder(default)]
    pub options: StreamOptions<FileEvent>,
    /// Bytes to download ahead of the reader before pausing (at least 64 KiB is used); `None`
    /// downloads the whole file. Default: `None`.
    pub buffer_ahead: Option<u64>,
    /// How far beyond the downloaded frontier a seek may land before the running request is
    /// cancelled and a new one starts at the seek target; nearer targets just wait. Default: 256 KiB.
    #[builder(default = 256 * 1024)]
    pub seek_threshold: u64,
    /// Format hints to report before (or instead of) what `Content-Type` and the extension say.
    pub media_info: Option<MediaInfo>,
    /// The stall watchdog of a finite file: a body that sends nothing for this long with the
    /// connection open is given up and resumed with a `Range` request from the first missing
    /// byte (within the downloader's retry budget). `None` (the default): the downloader's
    /// `inactivity_timeout` (15 s by default). A radio uses `RadioConfig::stall_timeout`.
    pub stall_timeout: Option<std::time::Duration>,
    /// How an endless body (an internet radio) is detected and read. Default:
    /// [`RadioConfig::default`](crate::RadioConfig::default) (detected; a 30 s ring; ICY metadata; a 5 s stall watchdog).
    #[builder(default)]
    pub radio: crate::RadioConfig,
}

/// Where a configured stream's bytes come from: a remote origin always with its downloader.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    Remote { url: Url, downloader: Downloader },
    Local(PathBuf),
}

impl FileConfig {
    /// Starts the configuration of the progressive HTTP(S) resource at `url`, fetched through the
    /// application's shared `downloader` (pass a clone).
    pub fn remote(url: Url, downloader: Downloader) -> FileConfigBuilder {
        Self::with_origin(Origin::Remote { url, downloader })
    }

    /// Starts the configuration of the local file at `path` (read in place, no downloader).
    pub fn local(path: impl Into<PathBuf>) -> FileConfigBuilder {
        Self::with_origin(Origin::Local(path.into()))
    }

    /// Starts the configuration of parsed input: remote sources use `downloader` (a clone of it),
    /// local ones ignore it.
    pub fn from_src(src: FileSrc, downloader: &Downloader) -> FileConfigBuilder {
        match src {
            FileSrc::Remote(url) => Self::remote(url, downloader.clone()),
            FileSrc::Local(path) => Self::local(path),
        }
    }

    /// Where the bytes come from.
    pub fn src(&self) -> FileSrc {
        match &self.origin {
            Origin::Remote { url, .. } => FileSrc::Remote(url.clone()),
            Origin::Local(path) => FileSrc::Local(path.clone()),
        }
    }

    /// The downloader of a remote source.
    pub fn downloader(&self) -> Option<&Downloader> {
        match &self.origin {
            Origin::Remote { downloader, .. } => Some(downloader),
            Origin::Local(_) => None,
        }
    }

    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
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
