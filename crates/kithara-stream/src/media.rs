//! The shared media vocabulary: codecs, containers and the format facts a decoder needs.
//!
//! These are the single definitions every kithara crate uses; protocol crates fill in
//! [`MediaInfo`] from what they learn (MIME type, file extension, playlist `CODECS`), decoders read it
//! as a probing hint.

use std::fmt;

/// An audio codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AudioCodec {
    /// AAC Low Complexity.
    AacLc,
    /// High-Efficiency AAC (SBR).
    HeAac,
    /// High-Efficiency AAC v2 (SBR + parametric stereo).
    HeAacV2,
    /// MPEG-1/2 Layer III.
    Mp3,
    /// FLAC.
    Flac,
    /// Vorbis.
    Vorbis,
    /// Opus.
    Opus,
    /// Apple Lossless.
    Alac,
    /// Uncompressed PCM.
    Pcm,
    /// Dolby Digital.
    Ac3,
    /// Dolby Digital Plus.
    Eac3,
}

impl AudioCodec {
    /// Parses one RFC 6381 codec string as found in HLS `CODECS` (`mp4a.40.2`, `mp4a.40.5`, `mp4a.40.34`, `ac-3`, `fLaC`, `opus`).
    pub fn from_rfc6381(codec: &str) -> Option<Self> {
        let c = codec.trim().to_ascii_lowercase();
        Some(match c.as_str() {
            "mp4a.40.2" | "mp4a.40.1" | "mp4a.40" => Self::AacLc,
            "mp4a.40.5" => Self::HeAac,
            "mp4a.40.29" => Self::HeAacV2,
            "mp4a.40.34" | "mp4a.6b" | "mp4a.69" | "mp3" => Self::Mp3,
            "flac" => Self::Flac,
            "opus" => Self::Opus,
            "vorbis" => Self::Vorbis,
            "alac" => Self::Alac,
            "ac-3" | "mp4a.a5" => Self::Ac3,
            "ec-3" | "mp4a.a6" => Self::Eac3,
            _ => return None,
        })
    }

    /// The codec implied by a MIME type, when the type names one codec (`audio/mpeg`, `audio/flac`, `audio/aac`, …).
    pub fn from_mime(mime: &str) -> Option<Self> {
        Some(match essence(mime).as_str() {
            "audio/mpeg" | "audio/mp3" | "audio/mpa" => Self::Mp3,
            "audio/aac" | "audio/aacp" | "audio/x-aac" => Self::AacLc,
            "audio/flac" | "audio/x-flac" => Self::Flac,
            "audio/opus" => Self::Opus,
            "audio/vorbis" => Self::Vorbis,
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/l16" => Self::Pcm,
            "audio/ac3" => Self::Ac3,
            "audio/eac3" => Self::Eac3,
            _ => return None,
        })
    }

    /// The codec implied by a file extension, when it names one (`mp3`, `flac`, `aac`, `wav`, `opus`).
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(
            match ext.trim_start_matches('.').to_ascii_lowercase().as_str() {
                "mp3" => Self::Mp3,
                "aac" => Self::AacLc,
                "flac" => Self::Flac,
                "wav" | "wave" | "aif" | "aiff" => Self::Pcm,
                "opus" => Self::Opus,
                "ac3" => Self::Ac3,
                "ec3" | "eac3" => Self::Eac3,
                _ => return None,
            },
        )
    }
}

impl fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AacLc => "AAC-LC",
            Self::HeAac => "HE-AAC",
            Self::HeAacV2 => "HE-AACv2",
            Self::Mp3 => "MP3",
            Self::Flac => "FLAC",
            Self::Vorbis => "Vorbis",
            Self::Opus => "Opus",
            Self::Alac => "ALAC",
            Self::Pcm => "PCM",
            Self::Ac3 => "AC-3",
            Self::Eac3 => "E-AC-3",
        })
    }
}

/// A container (or elementary stream) format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContainerFormat {
    /// Fragmented MP4 (CMAF, HLS fMP4 segments).
    Fmp4,
    /// Classic MP4 / M4A.
    Mp4,
    /// MPEG transport stream.
    MpegTs,
    /// Raw AAC with ADTS headers.
    Adts,
    /// Raw MPEG audio frames (`.mp3`).
    MpegAudio,
    /// Native FLAC.
    Flac,
    /// RIFF WAVE.
    Wav,
    /// Ogg.
    Ogg,
    /// Matroska / WebM.
    Mkv,
    /// Core Audio Format.
    Caf,
    /// AIFF.
    Aiff,
}

impl ContainerFormat {
    /// The container implied by a MIME type.
    pub fn from_mime(mime: &str) -> Option<Self> {
        Some(match essence(mime).as_str() {
            "audio/mpeg" | "audio/mp3" | "audio/mpa" => Self::MpegAudio,
            "audio/aac" | "audio/aacp" | "audio/x-aac" => Self::Adts,
            "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "video/mp4" => Self::Mp4,
            "video/mp2t" | "audio/mp2t" => Self::MpegTs,
            "audio/flac" | "audio/x-flac" => Self::Flac,
            "audio/wav" | "audio/x-wav" | "audio/wave" => Self::Wav,
            "audio/ogg" | "audio/opus" | "audio/vorbis" | "application/ogg" => Self::Ogg,
            "audio/webm" | "video/webm" | "audio/x-matroska" => Self::Mkv,
            "audio/x-caf" => Self::Caf,
            "audio/aiff" | "audio/x-aiff" => Self::Aiff,
            _ => return None,
        })
    }

    /// The container implied by a file extension (with or without the dot, any case).
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(
            match ext.trim_start_matches('.').to_ascii_lowercase().as_str() {
                "mp3" | "mp2" | "mpga" => Self::MpegAudio,
                "aac" | "adts" => Self::Adts,
                "m4a" | "mp4" | "m4b" => Self::Mp4,
                "m4s" | "cmfa" => Self::Fmp4,
                "ts" | "m2ts" => Self::MpegTs,
                "flac" => Self::Flac,
                "wav" | "wave" => Self::Wav,
                "ogg" | "oga" | "opus" => Self::Ogg,
                "webm" | "mka" | "mkv" => Self::Mkv,
                "caf" => Self::Caf,
                "aif" | "aiff" => Self::Aiff,
                _ => return None,
            },
        )
    }

    /// The container implied by the last path segment of a URL or file path (`…/song.flac?x=1` → FLAC).
    pub fn from_path(path: &str) -> Option<Self> {
        Self::from_extension(extension(path)?)
    }
}

impl fmt::Display for ContainerFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fmp4 => "fMP4",
            Self::Mp4 => "MP4",
            Self::MpegTs => "MPEG-TS",
            Self::Adts => "ADTS",
            Self::MpegAudio => "MPEG audio",
            Self::Flac => "FLAC",
            Self::Wav => "WAV",
            Self::Ogg => "Ogg",
            Self::Mkv => "Matroska",
            Self::Caf => "CAF",
            Self::Aiff => "AIFF",
        })
    }
}

/// What is known about a stream's format. Every field is optional: sources fill in what they learn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bon::Builder)]
#[non_exhaustive]
pub struct MediaInfo {
    /// Number of channels.
    pub channels: Option<u16>,
    /// Audio codec.
    pub codec: Option<AudioCodec>,
    /// Container format.
    pub container: Option<ContainerFormat>,
    /// Sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Index of the variant (adaptive streams) these facts belong to.
    pub variant_index: Option<usize>,
}

impl MediaInfo {
    /// Hints from a `Content-Type` value; `None` if it says nothing about audio.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let codec = AudioCodec::from_mime(mime);
        let container = ContainerFormat::from_mime(mime);
        (codec.is_some() || container.is_some()).then_some(Self {
            codec,
            container,
            ..Self::default()
        })
    }

    /// Hints from a file extension; `None` if the extension is not a known audio one.
    pub fn from_extension(ext: &str) -> Option<Self> {
        let codec = AudioCodec::from_extension(ext);
        let container = ContainerFormat::from_extension(ext);
        (codec.is_some() || container.is_some()).then_some(Self {
            codec,
            container,
            ..Self::default()
        })
    }

    /// Hints from the extension of the last segment of a URL path or file path
    /// (`…/song.flac?x=1` → FLAC); `None` if it has no known audio extension.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::from_extension(extension(path)?)
    }

    /// Fills the fields that `self` lacks from `other`.
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        Self {
            channels: self.channels.or(other.channels),
            codec: self.codec.or(other.codec),
            container: self.container.or(other.container),
            sample_rate: self.sample_rate.or(other.sample_rate),
            variant_index: self.variant_index.or(other.variant_index),
        }
    }
}

/// What an internet radio station says about itself in its response headers (`icy-name`,
/// `icy-genre`, `icy-br`, `icy-url`, `icy-description`). Every field is optional.
///
/// ```
/// use kithara_stream::StationInfo;
/// let s = StationInfo::builder().name("Kit FM".into()).bitrate_kbps(128).build();
/// assert_eq!(s.name.as_deref(), Some("Kit FM"));
/// assert!(!s.is_empty());
/// assert!(StationInfo::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, bon::Builder)]
#[non_exhaustive]
pub struct StationInfo {
    /// The station's name (`icy-name`).
    pub name: Option<String>,
    /// Its genre (`icy-genre`).
    pub genre: Option<String>,
    /// The nominal bitrate in kbit/s (`icy-br`; the first number when it lists several).
    pub bitrate_kbps: Option<u32>,
    /// The station's web page (`icy-url`).
    pub url: Option<String>,
    /// Its description (`icy-description`).
    pub description: Option<String>,
}

impl StationInfo {
    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The extension of the last segment of a URL or file path, query and fragment ignored.
fn extension(path: &str) -> Option<&str> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.rsplit_once('.').map(|(_, ext)| ext)
}

fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(
            ContainerFormat::from_mime("audio/mpeg; charset=x"),
            Some(ContainerFormat::MpegAudio)
        );
        assert_eq!(AudioCodec::from_mime("AUDIO/FLAC"), Some(AudioCodec::Flac));
        assert_eq!(
            ContainerFormat::from_path("http://h/a/b.Flac?t=1"),
            Some(ContainerFormat::Flac)
        );
        assert_eq!(ContainerFormat::from_path("http://h/a/noext"), None);
        assert_eq!(
            MediaInfo::from_path("/music/a.mp3").and_then(|m| m.codec),
            Some(AudioCodec::Mp3)
        );
        assert_eq!(
            AudioCodec::from_rfc6381(" mp4a.40.5"),
            Some(AudioCodec::HeAac)
        );
        let m = MediaInfo::from_extension("m4a").unwrap();
        assert_eq!(m.container, Some(ContainerFormat::Mp4));
        assert_eq!(m.codec, None);
        assert!(MediaInfo::from_mime("text/html").is_none());
        let merged = MediaInfo::builder().sample_rate(44_100).build().or(m);
        assert_eq!(merged.sample_rate, Some(44_100));
        assert_eq!(merged.container, Some(ContainerFormat::Mp4));
    }
}
