//! Station links: a `.pls` or `.m3u` file that lists the URLs of streams (an internet radio's
//! usual way to be shared), told apart from an HLS playlist by its content, and its entries
//! resolved against the link's own location.
//!
//! The rule: a body whose first non-empty line is `[playlist]` is PLS (its `FileN=` entries in
//! the order of `N`); a body with any `#EXT-X-` tag is an HLS playlist (every HLS playlist has
//! one: `#EXT-X-TARGETDURATION` in a media playlist, `#EXT-X-STREAM-INF` in a master); any other
//! text is an M3U station list whose entries are its lines that are not comments (`#EXTM3U` and
//! `#EXTINF:-1,Name` are comments there).

use std::path::Path;

use kithara_file::FileSrc;
use kithara_stream::RedactedUrl;
use url::Url;

/// Largest station link read (bytes). Real ones are a few hundred bytes.
pub const MAX_LINK_BYTES: u64 = 64 * 1024;

/// Longest entry accepted (a URL), in bytes.
const MAX_ENTRY: usize = 4096;

/// What a body that may be a station link turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkBody {
    /// An HLS playlist (it has `#EXT-X-` tags).
    Hls,
    /// A station link and its entries, in order (possibly none).
    Entries(Vec<String>),
    /// Neither (not text, or no entry): the bytes are something else.
    Other,
}

/// Whether `src` is named like a station link (`.pls`, `.m3u`; case-insensitive).
pub(crate) fn named_as_link(src: &FileSrc) -> bool {
    let path = match src {
        FileSrc::Remote(url) => url.path().to_ascii_lowercase(),
        FileSrc::Local(path) => path.to_string_lossy().to_ascii_lowercase(),
        _ => return false,
    };
    path.ends_with(".pls") || path.ends_with(".m3u")
}

/// Whether a `Content-Type` names a PLS station link (`audio/x-scpls`, `audio/scpls`,
/// `application/pls+xml`; parameters ignored).
pub fn is_link_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    ["audio/x-scpls", "audio/scpls", "application/pls+xml"]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// The entries of a station link in `body` (PLS or M3U, see the module docs), in order; `None`
/// when `body` is an HLS playlist or not a station link at all. Only the text is looked at:
/// entries are returned as written, not yet resolved.
///
/// ```
/// let pls = b"[playlist]\nFile2=http://b.example/s\nFile1=http://a.example/s\nNumberOfEntries=2\n";
/// assert_eq!(
///     kithara_open::station_link_entries(pls),
///     Some(vec!["http://a.example/s".to_owned(), "http://b.example/s".to_owned()])
/// );
/// let m3u = b"#EXTM3U\n#EXTINF:-1,Radio\nhttp://radio.example/live\n";
/// assert_eq!(kithara_open::station_link_entries(m3u).map(|e| e.len()), Some(1));
/// let hls = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n";
/// assert_eq!(kithara_open::station_link_entries(hls), None);
/// let page = b"<!DOCTYPE html><html><body>Please log in</body></html>";
/// assert_eq!(kithara_open::station_link_entries(page), None);
/// ```
pub fn station_link_entries(body: &[u8]) -> Option<Vec<String>> {
    match classify(body) {
        LinkBody::Entries(e) if !e.is_empty() => Some(e),
        _ => None,
    }
}

/// Tells an HLS playlist, a station link and anything else apart (see the module docs).
pub(crate) fn classify(body: &[u8]) -> LinkBody {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Ok(text) = std::str::from_utf8(body) else {
        return LinkBody::Other;
    };
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.clone().any(|l| l.starts_with("#EXT-X-")) {
        return LinkBody::Hls;
    }
    // An HTML page (a login or error page served in place of a playlist) is not a list of
    // streams: no entry of a station link holds angle brackets.
    if lines.clone().any(|l| l.contains('<') || l.contains('>')) {
        return LinkBody::Other;
    }
    let pls = lines
        .clone()
        .next()
        .is_some_and(|l| l.eq_ignore_ascii_case("[playlist]"));
    let entries = if pls {
        pls_entries(lines)
    } else {
        lines
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    if entries
        .iter()
        .any(|e| e.len() > MAX_ENTRY || e.chars().any(char::is_control))
    {
        return LinkBody::Other;
    }
    if !pls && entries.is_empty() {
        return LinkBody::Other;
    }
    LinkBody::Entries(entries)
}

/// The `FileN=` values of a PLS body, ordered by `N` (then by position).
fn pls_entries<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut files: Vec<(u32, String)> = lines
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            let key = key.trim();
            let n = key
                .get(..4)
                .filter(|k| k.eq_ignore_ascii_case("file"))
                .and_then(|_| key.get(4..))?
                .parse()
                .ok()?;
            Some((n, value.trim().to_owned()))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    files.sort_by_key(|(n, _)| *n);
    files.into_iter().map(|(_, v)| v).collect()
}

/// Why an entry of a station link is refused before any request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A remote link named a local file (`file:`) or another non-http(s) scheme.
    NotHttp,
    /// The entry is not a URL or path.
    Unparsable,
}

impl Refusal {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::NotHttp => "a remote station link may only name http(s) streams",
            Self::Unparsable => "not a URL",
        }
    }
}

/// The source an entry of the link at `link` names: relative entries resolve against the
/// link's URL (or, for a local link, its directory). A remote link's entries must be http(s):
/// a remote link never makes kithara read a local file.
pub(crate) fn resolve_entry(link: &FileSrc, entry: &str) -> Result<FileSrc, Refusal> {
    match link {
        FileSrc::Remote(base) => {
            let url = base.join(entry).map_err(|_| Refusal::Unparsable)?;
            match url.scheme() {
                "http" | "https" => Ok(FileSrc::Remote(url)),
                _ => Err(Refusal::NotHttp),
            }
        }
        FileSrc::Local(path) => resolve_local(path, entry),
        _ => Err(Refusal::Unparsable),
    }
}

/// An entry of a local link: an http(s) or `file:` URL, or a path relative to the link's
/// directory.
fn resolve_local(link: &Path, entry: &str) -> Result<FileSrc, Refusal> {
    if let Ok(url) = Url::parse(entry) {
        return match url.scheme() {
            "http" | "https" => Ok(FileSrc::Remote(url)),
            "file" => url
                .to_file_path()
                .map(FileSrc::Local)
                .map_err(|()| Refusal::Unparsable),
            _ => Err(Refusal::NotHttp),
        };
    }
    let dir = link.parent().unwrap_or_else(|| Path::new("."));
    Ok(FileSrc::Local(dir.join(entry)))
}

/// How an entry is named in messages: its redacted URL, or as written when it is not one.
pub(crate) fn entry_label(link: &FileSrc, entry: &str) -> String {
    match resolve_entry(link, entry) {
        Ok(FileSrc::Remote(url)) => RedactedUrl::new(&url).to_string(),
        Ok(FileSrc::Local(path)) => path.display().to_string(),
        _ => entry.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_told_apart() {
        assert_eq!(
            classify(b"[Playlist]\r\nfile1=a.mp3\r\nTitle1=x\r\nFILE3=c\r\nFile2=b\r\n"),
            LinkBody::Entries(vec!["a.mp3".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            classify(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"),
            LinkBody::Hls
        );
        assert_eq!(
            classify(b"\xEF\xBB\xBFhttp://a/1\n\n# c\nhttp://a/2\n"),
            LinkBody::Entries(vec!["http://a/1".into(), "http://a/2".into()])
        );
        assert_eq!(classify(b"ID3\x04\x00\xff\xfe"), LinkBody::Other);
        assert_eq!(classify(b"#EXTM3U\n"), LinkBody::Other);
        assert_eq!(
            classify(b"[playlist]\nNumberOfEntries=0\n"),
            LinkBody::Entries(vec![])
        );
    }

    #[test]
    fn entries_resolve_against_the_link() {
        let link = FileSrc::Remote(
            "http://h/radio/s.pls"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        let ok = |e: &str| match resolve_entry(&link, e) {
            Ok(FileSrc::Remote(u)) => u.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(ok("live.mp3"), "http://h/radio/live.mp3");
        assert_eq!(ok("/x"), "http://h/x");
        assert_eq!(ok("https://o/y"), "https://o/y");
        assert_eq!(
            resolve_entry(&link, "file:///etc/passwd"),
            Err(Refusal::NotHttp)
        );
        assert_eq!(resolve_entry(&link, "ftp://o/y"), Err(Refusal::NotHttp));

        let local = FileSrc::Local("/music/list.m3u".into());
        assert_eq!(
            resolve_entry(&local, "a.flac"),
            Ok(FileSrc::Local("/music/a.flac".into()))
        );
        assert!(matches!(
            resolve_entry(&local, "http://h/s"),
            Ok(FileSrc::Remote(_))
        ));
    }

    #[test]
    fn link_names_and_types() {
        let src = |s: &str| s.parse::<FileSrc>().unwrap_or_else(|_| unreachable!());
        assert!(named_as_link(&src("http://h/Radio.PLS")));
        assert!(named_as_link(&src("http://h/a.m3u")));
        assert!(!named_as_link(&src("http://h/a.m3u8")));
        assert!(is_link_type(Some("audio/x-scpls; charset=utf-8")));
        assert!(!is_link_type(Some("audio/mpeg")));
    }
}
