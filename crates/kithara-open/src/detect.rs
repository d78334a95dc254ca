//! Telling HLS from a progressive file: by the `.m3u8` extension before any request, by the
//! playlist MIME type of the server's answer otherwise.

use kithara_file::FileSrc;
use kithara_stream::{MediaInfo, RedactedUrl};
use url::Url;

/// Whether `src` names an HLS playlist by its `.m3u8` extension (case-insensitive).
pub fn is_hls(src: &FileSrc) -> bool {
    let path = match src {
        FileSrc::Remote(url) => url.path().to_owned(),
        FileSrc::Local(path) => path.to_string_lossy().into_owned(),
        _ => return false,
    };
    path.to_ascii_lowercase().ends_with(".m3u8")
}

/// Whether a `Content-Type` names an HLS playlist (`application/vnd.apple.mpegurl`,
/// `application/x-mpegurl`, `audio/mpegurl`, `audio/x-mpegurl`; parameters ignored).
pub fn is_playlist_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    [
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
    ]
    .iter()
    .any(|t| essence.eq_ignore_ascii_case(t))
}

/// Whether `src` can only be a progressive file without asking a server: a local path, or a URL
/// whose name has an audio file's extension.
pub(crate) fn named_as_audio(src: &FileSrc) -> bool {
    match src {
        FileSrc::Remote(url) => MediaInfo::from_path(url.path()).is_some(),
        _ => true,
    }
}

/// The redacted URL or the path of `src`, for messages.
pub fn label(src: &FileSrc) -> String {
    match src {
        FileSrc::Remote(url) => RedactedUrl::new(url).to_string(),
        FileSrc::Local(path) => path.display().to_string(),
        // FileSrc is non-exhaustive.
        other => format!("{other:?}"),
    }
}

/// What errors name as the origin of `src`: its redacted URL, or the `file://` URL of a local
/// path (`None` if the path cannot be made absolute).
pub(crate) fn origin(src: &FileSrc) -> Option<RedactedUrl> {
    match src {
        FileSrc::Remote(url) => Some(RedactedUrl::new(url)),
        FileSrc::Local(path) => std::path::absolute(path)
            .ok()
            .and_then(|p| Url::from_file_path(p).ok())
            .map(|u| RedactedUrl::new(&u)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_by_extension_and_type() {
        let src = |s: &str| s.parse::<FileSrc>().map_err(|e| e.to_string());
        assert_eq!(src("http://h/a/Master.M3U8").map(|s| is_hls(&s)), Ok(true));
        assert_eq!(src("http://h/a/song.mp3").map(|s| is_hls(&s)), Ok(false));
        assert_eq!(src("/tmp/list.m3u8").map(|s| is_hls(&s)), Ok(true));
        assert!(is_playlist_type(Some("application/vnd.apple.mpegurl")));
        assert!(is_playlist_type(Some("Audio/X-MpegURL; charset=utf-8")));
        assert!(!is_playlist_type(Some("audio/mpeg")));
        assert!(!is_playlist_type(None));
    }

    #[test]
    fn audio_names_need_no_request() {
        let src = |s: &str| s.parse::<FileSrc>().map_err(|e| e.to_string());
        assert_eq!(src("http://h/a.flac").map(|s| named_as_audio(&s)), Ok(true));
        assert_eq!(
            src("http://h/listen").map(|s| named_as_audio(&s)),
            Ok(false)
        );
        assert_eq!(src("song.bin").map(|s| named_as_audio(&s)), Ok(true));
    }
}
