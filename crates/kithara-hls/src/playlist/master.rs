//! The master (multivariant) playlist: variants and audio renditions.

use kithara_stream::{AudioCodec, MediaInfo, RedactedUrl};
use m3u8_rs::AlternativeMediaType;
use url::Url;

use super::{bad, resolve};
use crate::error::{Error, Result};

/// A master playlist, reduced to what an audio player needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MasterPlaylist {
    /// The URL the playlist was served from (after redirects).
    pub url: Url,
    /// The variants (`EXT-X-STREAM-INF`), in playlist order; I-frame playlists are left out.
    /// [`Variant::index`] is the position in this list.
    pub variants: Vec<Variant>,
    /// The audio renditions (`EXT-X-MEDIA TYPE=AUDIO`) of every group, in playlist order.
    pub audio_renditions: Vec<AudioRendition>,
}

/// One variant stream of a master playlist.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Variant {
    /// Position in [`MasterPlaylist::variants`]; the index used by `AbrMode::Fixed`.
    pub index: usize,
    /// The variant's media playlist, absolute.
    pub url: Url,
    /// `BANDWIDTH`: peak bits per second.
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`: average bits per second, when given.
    pub average_bandwidth: Option<u64>,
    /// `CODECS` as written (comma-separated RFC 6381 strings), when given.
    pub codecs: Option<String>,
    /// The first audio codec recognised in `CODECS`.
    pub audio_codec: Option<AudioCodec>,
    /// `AUDIO`: the group of audio renditions this variant plays with.
    pub audio_group: Option<String>,
}

impl Variant {
    /// The bitrate the ABR compares against throughput: `AVERAGE-BANDWIDTH` when given,
    /// else `BANDWIDTH`, in bits per second.
    pub fn bitrate(&self) -> u64 {
        self.average_bandwidth.unwrap_or(self.bandwidth)
    }

    /// Format hints for the decoder: the codec from `CODECS` and this variant's index.
    pub fn media_info(&self) -> MediaInfo {
        MediaInfo::builder()
            .maybe_codec(self.audio_codec)
            .variant_index(self.index)
            .build()
    }
}

/// One `EXT-X-MEDIA TYPE=AUDIO` rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioRendition {
    /// `GROUP-ID`.
    pub group_id: String,
    /// `NAME`.
    pub name: String,
    /// `LANGUAGE` (RFC 5646 tag), when given.
    pub language: Option<String>,
    /// `DEFAULT=YES`.
    pub default: bool,
    /// `AUTOSELECT=YES`.
    pub autoselect: bool,
    /// The rendition's media playlist, absolute; `None` when the audio is muxed in the variant.
    pub url: Option<Url>,
}

impl MasterPlaylist {
    /// Picks the rendition of `group` to play: the first whose language matches `language`
    /// (case-insensitive, `en` also matching `en-US`), else the `DEFAULT=YES` one, else the first.
    pub fn select_rendition(&self, group: &str, language: Option<&str>) -> Option<&AudioRendition> {
        self.select_audio(group, None, language)
    }

    /// Picks the rendition of `group` to play: the one whose `NAME` is `name` (case-insensitive),
    /// else as [`select_rendition`](Self::select_rendition) does with `language`.
    pub fn select_audio(
        &self,
        group: &str,
        name: Option<&str>,
        language: Option<&str>,
    ) -> Option<&AudioRendition> {
        let candidates: Vec<&AudioRendition> = self
            .audio_renditions
            .iter()
            .filter(|r| r.group_id == group)
            .collect();
        let by_name = name.and_then(|want| {
            candidates
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(want))
        });
        let by_language = language.and_then(|want| {
            candidates
                .iter()
                .find(|r| {
                    r.language
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(want))
                })
                .or_else(|| {
                    candidates.iter().find(|r| {
                        r.language
                            .as_deref()
                            .and_then(|l| l.split('-').next())
                            .zip(want.split('-').next())
                            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                    })
                })
        });
        by_name
            .or(by_language)
            .or_else(|| candidates.iter().find(|r| r.default))
            .or_else(|| candidates.first())
            .copied()
    }

    /// The media playlist to load for variant `index`: the URI of its selected audio rendition
    /// when that rendition has one, else the variant's own URI.
    pub fn media_url(&self, index: usize, language: Option<&str>) -> Option<&Url> {
        self.media_url_for(index, None, language)
    }

    /// As [`media_url`](Self::media_url), the rendition chosen by `name` first
    /// ([`select_audio`](Self::select_audio)).
    pub fn media_url_for(
        &self,
        index: usize,
        name: Option<&str>,
        language: Option<&str>,
    ) -> Option<&Url> {
        let variant = self.variants.get(index)?;
        let rendition_url = variant
            .audio_group
            .as_deref()
            .and_then(|g| self.select_audio(g, name, language))
            .and_then(|r| r.url.as_ref());
        Some(rendition_url.unwrap_or(&variant.url))
    }

    /// The variants' bitrates ([`Variant::bitrate`]), by index: the ladder handed to the ABR.
    pub fn bitrates(&self) -> Vec<u64> {
        self.variants.iter().map(Variant::bitrate).collect()
    }
}

pub(super) fn parse(text: &str, url: &Url) -> Result<MasterPlaylist> {
    let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).map_err(|e| {
        bad(
            url,
            "playlist",
            format!("master playlist does not parse: {e:?}"),
        )
    })?;
    // m3u8-rs keeps a tag whose attributes it cannot parse as an unknown tag: dropping it silently
    // would renumber the variants.
    if let Some(t) = parsed
        .unknown_tags
        .iter()
        .find(|t| matches!(t.tag.as_str(), "X-STREAM-INF" | "X-MEDIA"))
    {
        let tag = if t.tag == "X-MEDIA" {
            "EXT-X-MEDIA"
        } else {
            "EXT-X-STREAM-INF"
        };
        return Err(bad(url, tag, t.rest.clone().unwrap_or_default()));
    }
    let mut variants = Vec::new();
    for v in parsed.variants.iter().filter(|v| !v.is_i_frame) {
        if v.bandwidth == 0 {
            return Err(bad(
                url,
                "EXT-X-STREAM-INF",
                format!("BANDWIDTH missing or 0 for {}", v.uri),
            ));
        }
        let audio_codec = v
            .codecs
            .as_deref()
            .and_then(|c| c.split(',').find_map(AudioCodec::from_rfc6381));
        variants.push(Variant {
            index: variants.len(),
            url: resolve(url, &v.uri)?,
            bandwidth: v.bandwidth,
            average_bandwidth: v.average_bandwidth,
            codecs: v.codecs.clone(),
            audio_codec,
            audio_group: v.audio.clone(),
        });
    }
    if variants.is_empty() {
        return Err(Error::NoVariants {
            url: RedactedUrl::new(url),
        });
    }
    let mut audio_renditions = Vec::new();
    for m in parsed
        .alternatives
        .iter()
        .filter(|m| m.media_type == AlternativeMediaType::Audio)
    {
        audio_renditions.push(AudioRendition {
            group_id: m.group_id.clone(),
            name: m.name.clone(),
            language: m.language.clone(),
            default: m.default,
            autoselect: m.autoselect,
            url: m.uri.as_deref().map(|u| resolve(url, u)).transpose()?,
        });
    }
    Ok(MasterPlaylist {
        url: url.clone(),
        variants,
        audio_renditions,
    })
}
