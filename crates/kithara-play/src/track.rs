//! [`Track`]: what a queue holds: a URL or a path, opened when its turn comes.

use std::path::PathBuf;

use kithara_file::FileSrc;
use kithara_stream::RedactedUrl;
use url::Url;

/// A queue entry's identity: unique for the life of the player, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u64);

impl std::fmt::Display for TrackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A track to play: a progressive file (http(s) or local) or an HLS playlist.
///
/// An http(s) URL ending in `.m3u8`, or one the server answers with a playlist MIME type, plays
/// as HLS; anything else as a progressive file (the rule the CLI uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    src: FileSrc,
}

impl Track {
    /// A remote track.
    pub fn url(url: Url) -> Self {
        Self {
            src: FileSrc::Remote(url),
        }
    }

    /// A local file.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self {
            src: FileSrc::Local(path.into()),
        }
    }

    /// An http(s) URL when `s` parses as one, else a path.
    pub fn parse(s: &str) -> Self {
        match Url::parse(s) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Self::url(url),
            _ => Self::path(s),
        }
    }

    /// Where the bytes come from.
    pub fn src(&self) -> &FileSrc {
        &self.src
    }

    /// The redacted URL (no query, no credentials) or the path, for messages.
    pub fn label(&self) -> String {
        match &self.src {
            FileSrc::Remote(url) => RedactedUrl::new(url).to_string(),
            FileSrc::Local(path) => path.display().to_string(),
            other => format!("{other:?}"),
        }
    }

    /// Whether the name says HLS (a `.m3u8` path).
    pub(crate) fn is_named_hls(&self) -> bool {
        let path = match &self.src {
            FileSrc::Remote(url) => url.path().to_owned(),
            FileSrc::Local(path) => path.to_string_lossy().into_owned(),
            _ => return false,
        };
        path.to_ascii_lowercase().ends_with(".m3u8")
    }
}

impl From<Url> for Track {
    fn from(url: Url) -> Self {
        Self::url(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tells_urls_from_paths() {
        assert!(matches!(
            Track::parse("https://h/a.mp3").src(),
            FileSrc::Remote(_)
        ));
        assert!(matches!(Track::parse("a/b.flac").src(), FileSrc::Local(_)));
        assert!(Track::parse("http://h/x/master.M3U8").is_named_hls());
        assert!(!Track::parse("http://h/x.mp3").is_named_hls());
    }
}
