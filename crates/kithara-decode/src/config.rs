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
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}
