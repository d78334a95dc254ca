//! [`TrackInfo`]: what the decoder knows about the audio it decodes, in kithara's vocabulary.

use std::time::Duration;

use kithara_stream::{AudioCodec, ContainerFormat};
use symphonia::core::{
    codecs::audio::{well_known as codecs, AudioCodecId},
    formats::{well_known as formats, FormatId},
};

/// Facts about the decoded track.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackInfo {
    /// The codec, when kithara has a name for it.
    pub codec: Option<AudioCodec>,
    /// symphonia's short name of the codec (`mp3`, `aac`, `flac`, …).
    pub codec_name: String,
    /// The container.
    pub container: Option<ContainerFormat>,
    /// Sample rate in Hz (0 if the container does not say and nothing was decoded yet).
    pub sample_rate: u32,
    /// Channel count (0 if the container does not say and nothing was decoded yet).
    pub channels: u16,
    /// Total frames, when the container declares them.
    pub frames: Option<u64>,
    /// Duration, when the container declares it.
    pub duration: Option<Duration>,
    /// What the file's tags say (title, artist, album, track number, cover art): those the
    /// reader met while opening (ID3v2, Vorbis comments, FLAC, MP4 `ilst`), then those at the
    /// end of a progressive file (APE, ID3v1) when its last bytes are present, or fetched with
    /// [`DecoderConfig::fetch_tail_tags`](crate::DecoderConfig::fetch_tail_tags).
    pub tags: crate::Tags,
}

/// kithara's container for a symphonia format id.
pub(crate) fn container_of(id: FormatId) -> Option<ContainerFormat> {
    Some(match id {
        formats::FORMAT_ID_MP1 | formats::FORMAT_ID_MP2 | formats::FORMAT_ID_MP3 => {
            ContainerFormat::MpegAudio
        }
        formats::FORMAT_ID_ADTS => ContainerFormat::Adts,
        formats::FORMAT_ID_ISOMP4 => ContainerFormat::Mp4,
        formats::FORMAT_ID_FLAC => ContainerFormat::Flac,
        formats::FORMAT_ID_WAVE => ContainerFormat::Wav,
        formats::FORMAT_ID_OGG => ContainerFormat::Ogg,
        formats::FORMAT_ID_MKV => ContainerFormat::Mkv,
        formats::FORMAT_ID_CAF => ContainerFormat::Caf,
        formats::FORMAT_ID_AIFF => ContainerFormat::Aiff,
        crate::ts::FORMAT_ID_MPEG_TS => ContainerFormat::MpegTs,
        _ => return None,
    })
}

/// kithara's codec for a symphonia codec id.
pub(crate) fn codec_of(id: AudioCodecId) -> Option<AudioCodec> {
    Some(match id {
        codecs::CODEC_ID_MP3 => AudioCodec::Mp3,
        codecs::CODEC_ID_AAC => AudioCodec::AacLc,
        codecs::CODEC_ID_FLAC => AudioCodec::Flac,
        codecs::CODEC_ID_VORBIS => AudioCodec::Vorbis,
        codecs::CODEC_ID_OPUS => AudioCodec::Opus,
        codecs::CODEC_ID_ALAC => AudioCodec::Alac,
        codecs::CODEC_ID_AC3 => AudioCodec::Ac3,
        codecs::CODEC_ID_EAC3 => AudioCodec::Eac3,
        id if (0x100..0x200).contains(&id_value(id)) => AudioCodec::Pcm,
        _ => return None,
    })
}

/// A readable name for a codec symphonia may have no decoder for.
pub(crate) fn codec_label(id: AudioCodecId) -> String {
    match id {
        codecs::CODEC_ID_OPUS => "Opus".to_owned(),
        codecs::CODEC_ID_SPEEX => "Speex".to_owned(),
        codecs::CODEC_ID_AC3 => "AC-3".to_owned(),
        codecs::CODEC_ID_EAC3 => "E-AC-3".to_owned(),
        codecs::CODEC_ID_WAVPACK => "WavPack".to_owned(),
        other => codec_of(other).map_or_else(|| format!("codec id {other}"), |c| c.to_string()),
    }
}

fn id_value(id: AudioCodecId) -> u32 {
    // AudioCodecId shows its value as `0x…` and has no accessor.
    u32::from_str_radix(id.to_string().trim_start_matches("0x"), 16).unwrap_or(u32::MAX)
}
