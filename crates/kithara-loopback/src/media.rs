//! Bundled audio fixtures: a static table of the files under `media/` (embedded with
//! `include_bytes!`) and [`LoopbackServer::mount_media`] to serve them.
//!
//! The files are made by `scripts/make-fixtures.sh` at the workspace root: 4 s of synthesized
//! 22.05 kHz stereo audio (chirps, a tone, a little noise) in MP3, AAC-LC (ADTS, M4A with `moov` at
//! the end and first, fragmented MP4, MPEG-TS), FLAC, WAV, Ogg Vorbis and Opus, plus a 30 s HLS
//! ladder under `hls/` (three AAC variants as TS, fMP4 and packed ADTS; an AES-128 variant; an
//! `EXT-X-BYTERANGE` variant; master playlists with relative URIs); and 4 s of 44.1 kHz stereo
//! HE-AAC v1 and v2 in ADTS (`chirp-he.aac`, `chirp-he2.aac`; v1 remuxed into MP4 as
//! `chirp-he.m4a`) with an Apple-style ladder of them next to an AAC-LC variant, in TS segments,
//! under `hls-he/`.

use crate::{LoopbackServer, Route};

/// One bundled file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaFile {
    /// Path relative to the media directory, `/`-separated (`chirp.mp3`, `hls/ts/v0.m3u8`).
    pub name: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
    /// The `Content-Type` the server answers with.
    pub content_type: &'static str,
}

impl MediaFile {
    /// A [`Route`] serving this file with its content type.
    pub fn route(&self) -> Route {
        Route::new(bytes::Bytes::from_static(self.bytes)).content_type(self.content_type)
    }
}

/// Every bundled file, sorted by name.
pub static FILES: &[MediaFile] = include!(concat!(env!("OUT_DIR"), "/media_table.rs"));

/// The bundled file called `name` (relative path, e.g. `chirp.flac` or `hls/master.m3u8`).
pub fn get(name: &str) -> Option<&'static MediaFile> {
    FILES.iter().find(|f| f.name == name)
}

impl LoopbackServer {
    /// Serves every bundled file at `{prefix}/{name}` (`prefix` like `/media`; `""` mounts at the
    /// root), so the HLS playlists' relative URIs resolve on this server. Returns how many routes
    /// were installed.
    pub fn mount_media(&self, prefix: &str) -> usize {
        let prefix = prefix.trim_end_matches('/');
        for f in FILES {
            self.route(&format!("{prefix}/{}", f.name), f.route());
        }
        FILES.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_the_fixtures() {
        let mp3 = get("chirp.mp3").map(|f| (f.content_type, f.bytes.len()));
        assert!(matches!(mp3, Some(("audio/mpeg", n)) if n > 1000));
        assert!(get("hls/master.m3u8").is_some());
        assert!(get("hls/fmp4/v0-init.mp4").is_some());
        assert!(get("SHA256SUMS").is_none());
        assert!(FILES.windows(2).all(|w| w[0].name < w[1].name));
    }

    /// Every URI in every bundled playlist (segments, `URI="…"` of keys, maps and renditions)
    /// resolves to a bundled file.
    #[test]
    fn playlists_reference_bundled_files() {
        let mut checked = 0;
        for f in FILES.iter().filter(|f| f.name.ends_with(".m3u8")) {
            let dir = f.name.rsplit_once('/').map_or("", |(d, _)| d);
            let text = std::str::from_utf8(f.bytes).expect("playlists are UTF-8");
            for line in text.lines() {
                let mut uris: Vec<&str> = line
                    .split("URI=\"")
                    .skip(1)
                    .filter_map(|r| r.split('"').next())
                    .collect();
                if !line.starts_with('#') && !line.trim().is_empty() {
                    uris.push(line.trim());
                }
                for uri in uris {
                    let path = format!("{dir}/{uri}");
                    assert!(get(&path).is_some(), "{}: {uri} is not bundled", f.name);
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked}");
        let aes = std::str::from_utf8(get("hls/aes/v0.m3u8").map(|f| f.bytes).unwrap_or_default())
            .unwrap_or_default();
        assert!(aes.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"v0.key\",IV=0x"));
        let br = std::str::from_utf8(
            get("hls/byterange/v0.m3u8")
                .map(|f| f.bytes)
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        assert!(br.contains("#EXT-X-BYTERANGE:"));
        let fmp4 =
            std::str::from_utf8(get("hls/fmp4/v0.m3u8").map(|f| f.bytes).unwrap_or_default())
                .unwrap_or_default();
        assert!(fmp4.contains("#EXT-X-MAP:URI=\"v0-init.mp4\""));
    }
}
