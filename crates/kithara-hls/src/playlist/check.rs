//! Checks on a playlist body before it reaches the parser: size cap, HTML pages, `#EXTM3U`, UTF-8.

use kithara_stream::RedactedUrl;
use url::Url;

use super::ParseOptions;
use crate::error::{Error, Result};

/// Returns the body as text (byte order mark removed) if it may be a playlist.
pub(super) fn checked_text<'a>(
    body: &'a [u8],
    url: &Url,
    options: &ParseOptions,
) -> Result<&'a str> {
    let size = body.len() as u64;
    if size > options.max_bytes {
        return Err(Error::PlaylistTooLarge {
            url: RedactedUrl::new(url),
            size,
            limit: options.max_bytes,
        });
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let trimmed = &body[start..];
    if looks_like_html(trimmed) {
        return Err(Error::HtmlInsteadOfPlaylist {
            url: RedactedUrl::new(url),
        });
    }
    if !trimmed.starts_with(b"#EXTM3U") {
        return Err(Error::MissingHeader {
            url: RedactedUrl::new(url),
        });
    }
    std::str::from_utf8(trimmed).map_err(|_| Error::NotUtf8 {
        url: RedactedUrl::new(url),
    })
}

/// An HTML document starts with `<` and names `<!doctype html` or `<html` near the start.
fn looks_like_html(body: &[u8]) -> bool {
    if !body.starts_with(b"<") {
        return false;
    }
    let head: Vec<u8> = body.iter().take(1024).map(u8::to_ascii_lowercase).collect();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    has(b"<!doctype html") || has(b"<html") || has(b"<head") || has(b"<body")
}
