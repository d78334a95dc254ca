//! [`Track`]: what a queue holds: a URL or a path, opened when its turn comes, or a stream the
//! caller opened.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
};

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::FileSrc;
use kithara_stream::{RedactedUrl, Stream, StreamType};
use url::Url;

use crate::source::TrackSource;

/// A queue entry's identity: unique for the life of the player, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u64);

impl std::fmt::Display for TrackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A track to play: a progressive file (http(s) or local) or an HLS playlist, or a stream the
/// caller opened ([`Track::from_stream`]).
///
/// An http(s) URL ending in `.m3u8`, or one the server answers with a playlist MIME type, plays
/// as HLS; anything else as a progressive file (the rule the CLI uses).
#[derive(Clone)]
pub struct Track {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Src(FileSrc),
    Opened(Arc<Opened>),
}

/// A stream opened by the caller, made into a decoder (probing blocks) on the decoding thread.
struct Opened {
    label: String,
    make: Mutex<Option<MakeSource>>,
}

pub(crate) type MakeSource =
    Box<dyn FnOnce() -> kithara_decode::Result<Box<dyn TrackSource>> + Send>;

impl Track {
    /// A remote track.
    pub fn url(url: Url) -> Self {
        Self {
            kind: Kind::Src(FileSrc::Remote(url)),
        }
    }

    /// A local file.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self {
            kind: Kind::Src(FileSrc::Local(path.into())),
        }
    }

    /// An http(s) URL when `s` parses as one, else a path.
    pub fn parse(s: &str) -> Self {
        match Url::parse(s) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Self::url(url),
            _ => Self::path(s),
        }
    }

    /// A stream the caller opened (`Stream<File>`, `Stream<Hls>`, any `StreamType`), decoded
    /// with the default [`DecoderConfig`]. It plays once: a stream cannot be opened again, so a
    /// repeat of it fails with [`Error::Consumed`](crate::Error::Consumed). Its fetches run
    /// under its own cancellation token (the one its config named); the player drops the stream
    /// when it is done with it or stops, which cancels them. Give its config the player's
    /// downloader and, for a prompt close, a `wait_timeout` you can afford: closing the player
    /// waits for a read of this stream that is blocked on the network (the player's root token
    /// does not reach it).
    pub fn from_stream<T: StreamType>(stream: Stream<T>, label: impl Into<String>) -> Self
    where
        Decoder<T>: Send,
        Stream<T>: Send,
    {
        let make: MakeSource = Box::new(move || {
            Decoder::new(stream, DecoderConfig::default())
                .map(|d| Box::new(d) as Box<dyn TrackSource>)
        });
        Self {
            kind: Kind::Opened(Arc::new(Opened {
                label: label.into(),
                make: Mutex::new(Some(make)),
            })),
        }
    }

    /// Where the bytes come from; `None` for a stream the caller opened.
    pub fn src(&self) -> Option<&FileSrc> {
        match &self.kind {
            Kind::Src(src) => Some(src),
            Kind::Opened(_) => None,
        }
    }

    /// The redacted URL (no query, no credentials) or the path, for messages.
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Src(FileSrc::Remote(url)) => RedactedUrl::new(url).to_string(),
            Kind::Src(FileSrc::Local(path)) => path.display().to_string(),
            Kind::Src(other) => format!("{other:?}"),
            Kind::Opened(o) => o.label.clone(),
        }
    }

    /// For a stream the caller opened: the maker of its decoder, once (`Some(None)` after).
    pub(crate) fn take_opened(&self) -> Option<Option<MakeSource>> {
        match &self.kind {
            Kind::Opened(o) => Some(o.make.lock().unwrap_or_else(PoisonError::into_inner).take()),
            Kind::Src(_) => None,
        }
    }
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Track").field(&self.label()).finish()
    }
}

impl PartialEq for Track {
    fn eq(&self, other: &Self) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Src(a), Kind::Src(b)) => a == b,
            (Kind::Opened(a), Kind::Opened(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
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
            Some(FileSrc::Remote(_))
        ));
        assert!(matches!(
            Track::parse("a/b.flac").src(),
            Some(FileSrc::Local(_))
        ));
        let named_hls = |s: &str| Track::parse(s).src().is_some_and(kithara_open::is_hls);
        assert!(named_hls("http://h/x/master.M3U8"));
        assert!(!named_hls("http://h/x.mp3"));
        assert_eq!(Track::parse("a.mp3"), Track::path("a.mp3"));
    }
}
