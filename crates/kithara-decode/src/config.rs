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
    /// Fetch the last bytes of a progressive file (at most 16 KiB: one ranged request, the reader
    /// then goes back) to read its ID3v1 and APE tags when they have not arrived yet.
    /// Default: `false`: the tags at the end of a file are read only when its last bytes are
    /// present already (a local file, a complete or cached copy), and nothing requests them.
    /// From a server that ignores `Range` the tail comes only with the whole file, which opening
    /// then waits for (each wait within the stream's wait budget).
    #[builder(default = false)]
    pub fetch_tail_tags: bool,
}

/// How a seek finds its target in a file without a seek index (MPEG audio: MP3, MP2).
///
/// FLAC, WAV, MP4 and HLS carry or imply an index and seek the same in both modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SeekMode {
    /// Jump to the byte the target's frame starts at and read from there (a ranged request on a
    /// file still downloading).
    ///
    /// * Constant bitrate: the byte follows from the bitrate, the frame index from the byte
    ///   (checked on the frames read): **sample-exact**.
    /// * Variable bitrate with a seek table (a `Xing` tag's TOC or a `VBRI` table): the byte is
    ///   the table's, interpolated, and the frame found there is known within the table's
    ///   resolution only: the chunks' times are then an estimate, off by a whole number of MPEG
    ///   frames, within the bound that [`Decoder::time_accuracy`](crate::Decoder::time_accuracy)
    ///   reports (a `Xing` TOC: about 1 % of the duration plus 1/256 of the file's bytes).
    /// * Variable bitrate without a table: read from the start, as in [`SeekMode::Accurate`].
    #[default]
    Fast,
    /// Read every frame header from the start of the file (or from the current position for a
    /// seek forward) up to the target: sample-exact on any file, but fetches every byte before
    /// the target.
    Accurate,
}

/// How well the decoder knows the media time of the audio it hands out
/// ([`Decoder::time_accuracy`](crate::Decoder::time_accuracy)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeAccuracy {
    /// Every chunk's `time` is exact (to the frame): after a decode from the start, and after
    /// every seek except one by a variable-bitrate MP3's seek table.
    Exact,
    /// After a [`SeekMode::Fast`] seek by a variable-bitrate MP3's seek table: every chunk's
    /// `time` is an estimate, and the true media time of its first frame lies within this much
    /// of it, either way (as long as the table is within its own resolution of the truth). The
    /// error is the same for every chunk until the next seek, and a whole number of MPEG frames.
    Within(std::time::Duration),
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}
