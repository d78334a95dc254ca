//! [`Error`]: what only a progressive file can fail with (a local file that cannot be read).
//!
//! It travels inside [`kithara_stream::Error::Protocol`]; [`Error::find`] gets it back in one call
//! from any error a `Stream<File>` or a decoder over one returns.

use std::{io, path::PathBuf, sync::Arc};

use kithara_stream::{ErrorClass, ProtocolError};

/// A failure only a progressive file has.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a local file failed.
    #[error("{op} {path} failed")]
    LocalIo {
        /// The operation (`open`, `stat`, `read`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// An endless stream (a radio) whose connection kept failing: `attempts` reconnects in a
    /// row brought no byte (see `RadioConfig::reconnects`).
    #[error("gave up on the radio {url} after {attempts} reconnects without data")]
    RadioGaveUp {
        /// The station, query removed.
        url: kithara_stream::RedactedUrl,
        /// Connections in a row that brought nothing.
        attempts: u32,
        /// Why the last one ended (`None`: the station closed it cleanly).
        #[source]
        last: Option<Box<kithara_stream::Error>>,
    },
}

impl Error {
    /// The first file error behind `err` (a stream error, the `io::Error` a read returned, a
    /// decoder error, …), if there is one.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        kithara_stream::find_error(err)
    }

    /// The flat classification: a missing file is [`ErrorClass::NotFound`], a refused one
    /// [`ErrorClass::AccessDenied`], other I/O errors by their kind.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::LocalIo { source, .. } => match ErrorClass::of_io_kind(source.kind()) {
                ErrorClass::Other => ErrorClass::Storage,
                c => c,
            },
            Self::RadioGaveUp { last, .. } => {
                last.as_ref().map_or(ErrorClass::Network, |e| e.class())
            }
        }
    }
}

impl ProtocolError for Error {
    fn class(&self) -> ErrorClass {
        Error::class(self)
    }
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Self::LocalIo { source, .. } => source.kind(),
            Self::RadioGaveUp { .. } => io::ErrorKind::ConnectionAborted,
        }
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
}

impl From<Error> for kithara_stream::Error {
    fn from(e: Error) -> Self {
        kithara_stream::Error::protocol(e)
    }
}
