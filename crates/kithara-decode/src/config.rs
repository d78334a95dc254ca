//! [`DecoderConfig`]: how a [`Decoder`](crate::Decoder) is opened.

use kithara_stream::{MediaInfo, RedactedUrl};

/// Configuration of a [`Decoder`](crate::Decoder), built with [`DecoderConfig::builder`].
///
/// ```
/// use kithara_decode::DecoderConfig;
/// use kithara_stream::{ContainerFormat, MediaInfo};
/// let config = DecoderConfig::builder()
///     .media_info(MediaInfo::builder().container(ContainerFormat::Flac).build())
///     .gapless(false)
///     .build();
/// assert_eq!(config.max_probe_bytes, 1 << 20);
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct DecoderConfig {
    /// The (redacted) URL named in errors. Default: none, errors say `<stream>`.
    pub origin: Option<RedactedUrl>,
    /// Format hints that take precedence over the stream's own
    /// ([`Stream::media_info`](kithara_stream::Stream::media_info): MIME type, extension, playlist
    /// `CODECS`). Default: none.
    pub media_info: Option<MediaInfo>,
    /// Trim encoder delay and padding as the container declares them (gapless playback).
    /// Default: `true`.
    #[builder(default = true)]
    pub gapless: bool,
    /// Most bytes scanned for a format marker when probing. Default: 1 MiB.
    #[builder(default = 1 << 20)]
    pub max_probe_bytes: u32,
    /// How [`Decoder::seek`](crate::Decoder::seek) finds its target in a file without a seek
    /// index (MP3). Default: [`SeekMode::Fast`].
    #[builder(default)]
    pub seek_mode: SeekMode,
    /// Stream bytes a reader may consume without producing audio before decoding fails with
    /// [`Error::Stalled`](crate::Error::Stalled) instead of going on silently. Default: 1 MiB.
    #[builder(default = 1 << 20)]
    pub max_silent_bytes: u64,
}

/// How a seek finds its target in a file without a seek index (MPEG audio: MP3, MP2).
///
/// FLAC, WAV, MP4 and HLS carry or imply an index and seek the same in both modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SeekMode {
    /// Jump to the byte the target's frame starts at, computed from the constant bitrate, and
    /// read from there (a ranged request on a file still downloading). Sample-exact when the
    /// frame index follows from the frame headers (constant bitrate, checked on the frames read);
    /// a file where it does not (variable bitrate) is read from the start, as in
    /// [`SeekMode::Accurate`].
    #[default]
    Fast,
    /// Read every frame header from the start of the file (or from the current position for a
    /// seek forward) up to the target: sample-exact on any file, but fetches every byte before
    /// the target.
    Accurate,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}
