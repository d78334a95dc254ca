//! [`Error`]: why [`open`](crate::open) or [`open_decoder`](crate::open_decoder) failed.

use kithara_stream::{ErrorClass, ProtocolError, RedactedUrl};

/// Why opening failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The protocol's stream could not be opened (the server's answer, the network, a playlist,
    /// a local file); the stream's own error is the source.
    #[error("could not open {origin}")]
    Stream {
        /// The URL (redacted) or the path.
        origin: String,
        /// The stream's error.
        #[source]
        source: kithara_stream::Error,
    },
    /// The stream opened but the decoder could not (unknown format, no audio track, …); the
    /// decoder's error is the source.
    #[error("could not decode {origin}")]
    Decode {
        /// The URL (redacted) or the path.
        origin: String,
        /// The decoder's error.
        #[source]
        source: kithara_decode::Error,
    },
    /// HLS is read over http(s): a local playlist cannot be played.
    #[error("{origin}: HLS is read over http(s); serve the playlist and its segments over HTTP")]
    LocalPlaylist {
        /// The local path.
        origin: String,
    },
    /// A fixed variant was asked for, but the source is a progressive file, which has none.
    #[error(
        "{origin}: a fixed variant selects a variant of an HLS stream; a progressive file has none"
    )]
    NotAdaptive {
        /// The URL or path.
        origin: String,
    },
    /// The fixed variant asked for is not in the stream's ladder.
    #[error("{origin}: there is no variant {index}: the stream has {count}")]
    NoSuchVariant {
        /// The playlist URL.
        origin: RedactedUrl,
        /// The index asked for.
        index: usize,
        /// How many variants the stream has.
        count: usize,
    },
    /// The blocking task that probes the decoder did not finish (it panicked or the runtime shut
    /// down).
    #[error("the decoder's probe task failed")]
    ProbeTask(#[source] tokio::task::JoinError),
}

impl Error {
    /// The flat classification of this error, looking through the layers (a missing file is
    /// [`ErrorClass::NotFound`], a failed key [`ErrorClass::Key`], a fixed variant that cannot be
    /// had [`ErrorClass::InvalidInput`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Stream { source, .. } => source.class(),
            Self::Decode { source, .. } => source.class(),
            Self::LocalPlaylist { .. } | Self::NotAdaptive { .. } | Self::NoSuchVariant { .. } => {
                ErrorClass::InvalidInput
            }
            Self::ProbeTask(_) => ErrorClass::Other,
        }
    }
}

/// Carried typed inside `kithara_stream::Error::Protocol` when `Stream::<AnyMedia>::new` fails
/// for a reason of this crate's.
impl ProtocolError for Error {
    fn class(&self) -> ErrorClass {
        Error::class(self)
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
