//! The crate's error type.
//!
//! Each variant says what failed (the playlist or key URL with its query removed, the segment, the
//! byte count) and why. The type is `Clone` so that one failure (a key fetch, say) can be handed to
//! every segment that waits on it.

use kithara_stream::{ErrorClass, ProtocolError, RedactedUrl};

/// Result alias with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while reading a playlist or decrypting a segment.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The playlist body is larger than the configured cap (checked before parsing).
    #[error("playlist {url} is {size} bytes, over the {limit}-byte cap")]
    PlaylistTooLarge {
        /// Playlist URL, query removed.
        url: RedactedUrl,
        /// Size of the body received.
        size: u64,
        /// The configured cap.
        limit: u64,
    },
    /// The body is an HTML page (an error or login page), not a playlist.
    #[error("{url} is an HTML page, not an HLS playlist")]
    HtmlInsteadOfPlaylist {
        /// Playlist URL, query removed.
        url: RedactedUrl,
    },
    /// The body does not start with `#EXTM3U`.
    #[error("{url} is not an HLS playlist: it does not start with #EXTM3U")]
    MissingHeader {
        /// Playlist URL, query removed.
        url: RedactedUrl,
    },
    /// The playlist is not valid UTF-8.
    #[error("playlist {url} is not UTF-8 text")]
    NotUtf8 {
        /// Playlist URL, query removed.
        url: RedactedUrl,
    },
    /// The playlist could not be parsed, or a tag carries an invalid attribute.
    #[error("playlist {url}: bad {tag}: {detail}")]
    BadAttribute {
        /// Playlist URL, query removed.
        url: RedactedUrl,
        /// The tag at fault (`EXTINF`, `EXT-X-KEY`, `EXT-X-BYTERANGE`, …), or `playlist` when the
        /// parser could not say which.
        tag: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A URI in the playlist cannot be resolved against the playlist's URL.
    #[error("playlist {url}: URI {uri:?} cannot be resolved: {source}")]
    BadUri {
        /// Playlist URL, query removed.
        url: RedactedUrl,
        /// The URI as written in the playlist.
        uri: String,
        /// Why it could not be resolved.
        #[source]
        source: url::ParseError,
    },
    /// A line of the playlist is malformed: a segment URI without `#EXTINF`, a tag without the URI
    /// that must follow it, broken quoting, a malformed value, an undefined variable.
    #[error("playlist {url}, line {line} ({text:?}): {detail}")]
    BadLine {
        /// Playlist URL, query removed.
        url: RedactedUrl,
        /// The line's number, from 1.
        line: usize,
        /// The line as written (cut after 120 bytes).
        text: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A URI in the playlist names something other than an `http`/`https` resource: a remote
    /// playlist never makes kithara read a local file or anything else.
    #[error("playlist {url}: URI {uri:?} is not an http(s) URL")]
    UnsafeUri {
        /// Playlist URL, query removed.
        url: RedactedUrl,
        /// The URI as written in the playlist.
        uri: String,
    },
    /// A media playlist lists more segments than the cap
    /// ([`ParseOptions::max_segments`](crate::playlist::ParseOptions::max_segments)).
    #[error("media playlist {url} lists more than {limit} segments")]
    TooManySegments {
        /// Playlist URL, query removed.
        url: RedactedUrl,
        /// The cap.
        limit: usize,
    },
    /// A media playlist lists no segments.
    #[error("media playlist {url} has no segments")]
    NoSegments {
        /// Playlist URL, query removed.
        url: RedactedUrl,
    },
    /// A master playlist lists no playable variant.
    #[error("master playlist {url} has no variants")]
    NoVariants {
        /// Playlist URL, query removed.
        url: RedactedUrl,
    },
    /// The segment uses an encryption method kithara does not decrypt (`SAMPLE-AES`,
    /// `SAMPLE-AES-CTR`, or an unknown method).
    #[error(
        "unsupported encryption {method} (only AES-128 and NONE are supported){}",
        fmt_url(uri)
    )]
    UnsupportedEncryption {
        /// The `METHOD` as written.
        method: String,
        /// The key URI, query removed, when the tag has one.
        uri: Option<RedactedUrl>,
    },
    /// An AES-128 key is not 16 bytes long.
    #[error("key {uri} is {len} bytes long, AES-128 needs 16")]
    KeyLength {
        /// Key URL, query removed.
        uri: RedactedUrl,
        /// Length of the key body received.
        len: usize,
    },
    /// Fetching a key failed; every segment that needs it fails with this.
    #[error("key {uri} could not be fetched")]
    KeyFetch {
        /// Key URL, query removed.
        uri: RedactedUrl,
        /// The download's error.
        #[source]
        source: kithara_stream::Error,
    },
    /// The ciphertext ended in the middle of a block (its length is not a multiple of 16).
    #[error("encrypted segment ends mid-block: {len} bytes is not a multiple of 16")]
    TruncatedCiphertext {
        /// Total ciphertext length.
        len: u64,
    },
    /// Bytes of a live stream that were released: they lay more than the retention behind the
    /// reader.
    #[error("bytes at {pos} of the live stream were released (more than {retention:?} behind the reader)")]
    Released {
        /// Start of the released piece.
        pos: u64,
        /// How far behind the reader pieces are kept.
        retention: std::time::Duration,
    },
    /// The last block does not end in valid PKCS7 padding (wrong key or IV, or corrupt data).
    #[error("bad PKCS7 padding at the end of a decrypted segment (wrong key or IV?)")]
    BadPadding,
}

fn fmt_url(url: &Option<RedactedUrl>) -> String {
    url.as_ref().map(|u| format!(" at {u}")).unwrap_or_default()
}

impl Error {
    /// The first HLS error behind `err`: a stream error, the `io::Error` a read returned, a
    /// decoder error, … — one call from any error a `Stream<Hls>` or a decoder over one returns.
    ///
    /// ```
    /// # fn demo(err: &kithara_stream::Error) {
    /// if let Some(kithara_hls::Error::KeyFetch { uri, .. }) = kithara_hls::Error::find(err) {
    ///     eprintln!("the key at {uri} could not be fetched");
    /// }
    /// # }
    /// ```
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        kithara_stream::find_error(err)
    }

    /// The flat classification: key failures are [`ErrorClass::Key`], a refused encryption
    /// method [`ErrorClass::Unsupported`], malformed playlists [`ErrorClass::InvalidData`].
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::KeyFetch { .. } | Self::KeyLength { .. } | Self::BadPadding => ErrorClass::Key,
            Self::UnsupportedEncryption { .. } => ErrorClass::Unsupported,
            Self::PlaylistTooLarge { .. }
            | Self::HtmlInsteadOfPlaylist { .. }
            | Self::MissingHeader { .. }
            | Self::NotUtf8 { .. }
            | Self::BadAttribute { .. }
            | Self::BadUri { .. }
            | Self::BadLine { .. }
            | Self::UnsafeUri { .. }
            | Self::TooManySegments { .. }
            | Self::NoSegments { .. }
            | Self::NoVariants { .. }
            | Self::TruncatedCiphertext { .. } => ErrorClass::InvalidData,
            Self::Released { .. } => ErrorClass::InvalidInput,
        }
    }
}

impl ProtocolError for Error {
    fn class(&self) -> ErrorClass {
        Error::class(self)
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
}
