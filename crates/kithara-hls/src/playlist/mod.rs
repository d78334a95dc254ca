//! Playlists: checks on the raw body, parsing with `m3u8-rs`, and conversion to kithara's own model.
//!
//! [`parse_any`] takes a playlist body and the URL it was finally served from (after redirects) and
//! returns a [`MasterPlaylist`] or a [`MediaPlaylist`] whose URIs are absolute. Before any parsing
//! the body is checked for size (a configurable cap, 4 MiB by default), for an HTML page served in
//! place of a playlist, for the `#EXTM3U` header and for UTF-8.

mod attrs;
mod check;
mod daterange;
mod extinf;
mod identity;
mod master;
mod media;
mod prepare;

use url::Url;

use crate::error::{Error, Result};

pub use daterange::TimedMetadata;
pub use identity::SegmentId;
pub use master::{AudioRendition, MasterPlaylist, Variant};
pub use media::{InitSection, MediaPlaylist, Segment};

/// Default cap on a playlist body: 4 MiB.
pub const DEFAULT_MAX_PLAYLIST_BYTES: u64 = 4 * 1024 * 1024;

/// Default cap on the segments of one media playlist: 200,000 (over four days of 2 s segments).
pub const DEFAULT_MAX_SEGMENTS: usize = 200_000;

/// Limits applied when parsing a playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Largest playlist body accepted, in bytes. Default: [`DEFAULT_MAX_PLAYLIST_BYTES`] (4 MiB).
    pub max_bytes: u64,
    /// Most segments a media playlist may list. Default: [`DEFAULT_MAX_SEGMENTS`].
    pub max_segments: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_PLAYLIST_BYTES,
            max_segments: DEFAULT_MAX_SEGMENTS,
        }
    }
}

impl ParseOptions {
    /// Sets the largest playlist body accepted, in bytes.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the most segments a media playlist may list.
    #[must_use]
    pub fn max_segments(mut self, max_segments: usize) -> Self {
        self.max_segments = max_segments;
        self
    }
}

/// A parsed playlist: the URL given to a player may name either kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Playlist {
    /// A master (multivariant) playlist.
    Master(MasterPlaylist),
    /// A media playlist: the URL named one variant directly.
    Media(MediaPlaylist),
}

/// Parses a playlist body of either kind.
///
/// `url` is the URL the body was served from after redirects: relative URIs resolve against it.
pub fn parse_any(body: &[u8], url: &Url, options: &ParseOptions) -> Result<Playlist> {
    let text = check::checked_text(body, url, options)?;
    if m3u8_rs::is_master_playlist(text.as_bytes()) {
        let prepared = prepare::prepare(text, url, true, options)?;
        master::parse(&prepared.text, url).map(Playlist::Master)
    } else {
        let prepared = prepare::prepare(text, url, false, options)?;
        media::parse(&prepared, url).map(Playlist::Media)
    }
}

/// Parses a body that must be a media playlist (a variant's playlist, or a live reload).
pub fn parse_media(body: &[u8], url: &Url, options: &ParseOptions) -> Result<MediaPlaylist> {
    let text = check::checked_text(body, url, options)?;
    let prepared = prepare::prepare(text, url, false, options)?;
    media::parse(&prepared, url)
}

/// Resolves `uri` as written in the playlist at `base` (the final URL of the playlist).
///
/// RFC 3986 resolution: the URI's own query string is kept; the playlist's query is not carried
/// over to relative URIs. A playlist served over `http`/`https` may only name `http`/`https`
/// resources ([`Error::UnsafeUri`] otherwise): never a local file, `data:` or a script.
pub(crate) fn resolve(base: &Url, uri: &str) -> Result<Url> {
    let resolved = base.join(uri.trim()).map_err(|source| Error::BadUri {
        url: kithara_stream::RedactedUrl::new(base),
        uri: uri.to_owned(),
        source,
    })?;
    let web = |u: &Url| matches!(u.scheme(), "http" | "https");
    if web(base) && !web(&resolved) {
        return Err(Error::UnsafeUri {
            url: kithara_stream::RedactedUrl::new(base),
            uri: uri.to_owned(),
        });
    }
    Ok(resolved)
}

fn bad(url: &Url, tag: &'static str, detail: impl Into<String>) -> Error {
    Error::BadAttribute {
        url: kithara_stream::RedactedUrl::new(url),
        tag,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
