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
    /// A station link (`.pls`, `.m3u`) longer than [`MAX_LINK_BYTES`](crate::MAX_LINK_BYTES).
    #[error("{origin}: a station link of more than {limit} bytes")]
    LinkTooLarge {
        /// The link's URL (redacted) or path.
        origin: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A station link none of whose entries opens: each entry's failure, in the link's order
    /// (none when the link lists no entry).
    #[error("{origin}: no entry of the station link opens{}", list(failures))]
    StationLink {
        /// The link's URL (redacted) or path.
        origin: String,
        /// Why each entry failed.
        failures: Vec<LinkFailure>,
    },
    /// An entry of a station link refused before any request (a remote link naming a local
    /// file, a scheme other than http(s), not a URL).
    #[error("{entry}: {reason}")]
    EntryRefused {
        /// The entry (redacted).
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// A blocking task of opening (the decoder's probe, the read of a station link) did not
    /// finish (it panicked or the runtime shut down).
    #[error("a blocking task of opening (the decoder's probe, a station link's read) failed")]
    ProbeTask(#[source] tokio::task::JoinError),
}

/// Why one entry of a station link failed to open.
#[derive(Debug)]
#[non_exhaustive]
pub struct LinkFailure {
    /// The entry: its redacted URL or path, as resolved against the link.
    pub entry: String,
    /// Why it failed (typed: the stream's or the decoder's error inside).
    pub error: Box<Error>,
}

/// The failures of a station link's entries as one text: each entry with its error's chain.
fn list(failures: &[LinkFailure]) -> String {
    if failures.is_empty() {
        return String::from(": it lists no entry");
    }
    let mut out = String::new();
    for (i, f) in failures.iter().enumerate() {
        let mut chain = f.error.to_string();
        let mut cause = std::error::Error::source(&*f.error);
        while let Some(c) = cause {
            chain.push_str(": ");
            chain.push_str(&c.to_string());
            cause = c.source();
        }
        out.push_str(&format!("; {}. {}: {chain}", i + 1, f.entry));
    }
    out
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
            Self::LinkTooLarge { .. } => ErrorClass::InvalidData,
            Self::EntryRefused { .. } => ErrorClass::InvalidInput,
            Self::StationLink { failures, .. } => failures
                .last()
                .map_or(ErrorClass::InvalidData, |f| f.error.class()),
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
