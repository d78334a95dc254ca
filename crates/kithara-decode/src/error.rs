//! [`Error`]: what went wrong while probing, decoding or seeking, and where.

use std::{fmt, io, time::Duration};

use kithara_stream::{ErrorClass, RedactedUrl};

/// Where the decoded bytes come from, for error messages: the redacted URL when the caller gave one
/// (see [`DecoderConfig::origin`](crate::DecoderConfig::origin)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin(pub Option<RedactedUrl>);

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(url) => write!(f, "{url}"),
            None => f.write_str("<stream>"),
        }
    }
}

/// The decoder's error. Every variant names the [`Origin`] and what was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource is an HTML page (an error or login page served instead of audio).
    #[error("{origin}: an HTML page, not audio (starts with {found:?})")]
    HtmlPage {
        /// Where the bytes came from.
        origin: Origin,
        /// The first bytes, lossily as text.
        found: String,
    },
    /// The resource has no bytes at all.
    #[error("{origin}: empty file (0 bytes)")]
    Empty {
        /// Where the bytes came from.
        origin: Origin,
    },
    /// No reader recognised the container.
    #[error("{origin}: unrecognised audio format (first bytes {found})")]
    UnknownFormat {
        /// Where the bytes came from.
        origin: Origin,
        /// The first bytes, in hex.
        found: String,
        /// symphonia's verdict.
        #[source]
        source: symphonia::core::errors::Error,
    },
    /// The container holds no audio track.
    #[error("{origin}: {container} container without an audio track")]
    NoAudioTrack {
        /// Where the bytes came from.
        origin: Origin,
        /// The container found.
        container: String,
    },
    /// The audio track's codec has no decoder here.
    #[error("{origin}: unsupported codec {codec} in {container}")]
    UnsupportedCodec {
        /// Where the bytes came from.
        origin: Origin,
        /// The codec found (`Opus`, `HE-AAC`, `HE-AACv2`).
        codec: String,
        /// The container found.
        container: String,
    },
    /// The audio track's codec is decoded by an optional cargo feature of kithara-decode that this
    /// build leaves off (Opus: `opus`; HE-AAC v1/v2 that the container's AudioSpecificConfig or
    /// the playlist's `CODECS` signals: `fdk-aac`).
    #[error("{origin}: unsupported codec {codec} in {container}: it needs the `{feature}` feature of kithara-decode")]
    CodecFeatureOff {
        /// Where the bytes came from.
        origin: Origin,
        /// The codec found (`Opus`, `HE-AAC`, `HE-AACv2`).
        codec: String,
        /// The container found.
        container: String,
        /// The cargo feature that decodes it.
        feature: &'static str,
    },
    /// The file ends before its audio does: the bytes stop inside a frame, or before the duration
    /// the container declares. Returned after every decodable chunk.
    #[error("{origin}: truncated at byte {pos} after {decoded:?} of audio{}", expected.map(|e| format!(" (container declares {e:?})")).unwrap_or_default())]
    Truncated {
        /// Where the bytes came from.
        origin: Origin,
        /// The stream position where the bytes ran out.
        pos: u64,
        /// Audio decoded up to the truncation.
        decoded: Duration,
        /// The duration the container declares, when it does.
        expected: Option<Duration>,
    },
    /// The container or the codec data is malformed beyond recovery.
    #[error("{origin}: malformed {container} data near byte {pos}")]
    Malformed {
        /// Where the bytes came from.
        origin: Origin,
        /// The container being read.
        container: String,
        /// The stream position when it failed.
        pos: u64,
        /// symphonia's (or the TS demuxer's) error.
        #[source]
        source: symphonia::core::errors::Error,
    },
    /// Reading the stream failed (network error, timeout, cancellation, a key that could not be
    /// fetched). The message leads with what failed; the source is the stream's `io::Error`, whose
    /// payload is the typed `kithara_stream::Error`: reach the protocol's own error in one call with
    /// `kithara_hls::Error::find(&err)` (or `kithara_stream::find_error`), classify with
    /// [`Error::class`].
    #[error("{origin}: {source} (reading the stream near byte {pos})")]
    Stream {
        /// Where the bytes came from.
        origin: Origin,
        /// The stream position when it failed.
        pos: u64,
        /// The stream's error.
        #[source]
        source: io::Error,
    },
    /// The reader consumed bytes without producing audio for longer than
    /// [`DecoderConfig::max_silent_bytes`](crate::DecoderConfig::max_silent_bytes): bytes that do
    /// not decode, or packets past a length the container declared while the stream goes on.
    #[error("{origin}: no audio out of the last {silent_bytes} bytes (up to byte {pos})")]
    Stalled {
        /// Where the bytes came from.
        origin: Origin,
        /// The stream position when decoding gave up.
        pos: u64,
        /// Bytes consumed since audio last went out.
        silent_bytes: u64,
    },
    /// A seek could not be carried out.
    #[error("{origin}: seek to {target:?} failed")]
    Seek {
        /// Where the bytes came from.
        origin: Origin,
        /// The requested time.
        target: Duration,
        /// The reader's error.
        #[source]
        source: symphonia::core::errors::Error,
    },
}

impl Error {
    /// The origin named by the error.
    pub fn origin(&self) -> &Origin {
        match self {
            Self::HtmlPage { origin, .. }
            | Self::Empty { origin }
            | Self::UnknownFormat { origin, .. }
            | Self::NoAudioTrack { origin, .. }
            | Self::UnsupportedCodec { origin, .. }
            | Self::CodecFeatureOff { origin, .. }
            | Self::Truncated { origin, .. }
            | Self::Malformed { origin, .. }
            | Self::Stream { origin, .. }
            | Self::Stalled { origin, .. }
            | Self::Seek { origin, .. } => origin,
        }
    }

    /// The flat classification, looking through the layers: a stream failure is classified by
    /// the stream's (and the protocol's) error, a format or codec kithara cannot decode is
    /// [`ErrorClass::Unsupported`], corrupt or truncated audio [`ErrorClass::InvalidData`].
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::HtmlPage { .. }
            | Self::UnknownFormat { .. }
            | Self::NoAudioTrack { .. }
            | Self::UnsupportedCodec { .. }
            | Self::CodecFeatureOff { .. } => ErrorClass::Unsupported,
            Self::Empty { .. }
            | Self::Truncated { .. }
            | Self::Malformed { .. }
            | Self::Stalled { .. } => ErrorClass::InvalidData,
            Self::Stream { source, .. } => ErrorClass::of(source),
            Self::Seek { source, .. } => match ErrorClass::of(source) {
                ErrorClass::Other => ErrorClass::InvalidInput,
                c => c,
            },
        }
    }

    /// Whether the file ended early ([`Error::Truncated`]).
    pub fn is_truncated(&self) -> bool {
        matches!(self, Self::Truncated { .. })
    }

    /// Whether the codec or container is not supported ([`Error::UnsupportedCodec`],
    /// [`Error::CodecFeatureOff`] or [`Error::UnknownFormat`]).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedCodec { .. }
                | Self::CodecFeatureOff { .. }
                | Self::UnknownFormat { .. }
        )
    }

    /// The cargo feature of kithara-decode this build lacks to decode the stream
    /// ([`Error::CodecFeatureOff`]).
    pub fn missing_feature(&self) -> Option<&'static str> {
        match self {
            Self::CodecFeatureOff { feature, .. } => Some(feature),
            _ => None,
        }
    }
}

/// The decoder's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
