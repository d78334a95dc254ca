//! One flat classification of every error in the workspace ([`ErrorClass`]), the trait a protocol
//! crate's error implements to travel inside [`Error::Protocol`](crate::Error::Protocol)
//! ([`ProtocolError`]), and the walk that finds a typed error behind any number of layers
//! ([`find_error`]).

use std::{error::Error as StdError, io};

use crate::{error::TransportKind, SharedError};

/// What kind of failure an error is, looking through every layer (a decoder error wrapping an
/// `io::Error` wrapping a stream error wrapping an HLS key error is a [`Key`](Self::Key) failure).
///
/// Every error type of the workspace answers `class()`. Use it to decide what to tell a user or
/// whether to try again; match the typed error (e.g. `kithara_hls::Error::find(&err)`) for detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The resource does not exist (HTTP 404/410, a missing local file).
    NotFound,
    /// The server refused access (HTTP 401/403, a local permission error).
    AccessDenied,
    /// The network or the server failed: no connection, a reset, a 5xx, a server that answers
    /// ranges wrongly.
    Network,
    /// Something took too long: a reader wait, a silent server, a client timeout.
    Timeout,
    /// An encryption key could not be had or is wrong (fetch failed, wrong length, bad padding).
    Key,
    /// The content is a format, codec or encryption kithara does not handle.
    Unsupported,
    /// The content is malformed (not a playlist, a bad tag, corrupt or truncated audio).
    InvalidData,
    /// The resource changed on the server while it was read.
    ContentChanged,
    /// The caller asked for something impossible (a seek before byte 0, an unsupported URL).
    InvalidInput,
    /// The API was used where it cannot work: a read that would block a tokio runtime thread.
    Misuse,
    /// Storage failed (disk full, an I/O error of the cache).
    Storage,
    /// The stream or download was cancelled.
    Cancelled,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// The class of an `io::ErrorKind`, for I/O errors that carry no typed error of ours.
    pub fn of_io_kind(kind: io::ErrorKind) -> Self {
        match kind {
            io::ErrorKind::NotFound => Self::NotFound,
            io::ErrorKind::PermissionDenied => Self::AccessDenied,
            io::ErrorKind::TimedOut => Self::Timeout,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::BrokenPipe => Self::Network,
            io::ErrorKind::InvalidInput => Self::InvalidInput,
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => Self::InvalidData,
            io::ErrorKind::Unsupported => Self::Unsupported,
            _ => Self::Other,
        }
    }

    /// The class of any error: the first typed error of ours found behind its layers (walking
    /// `source()` chains and `io::Error` payloads), else the kind of the first `io::Error`, else
    /// [`Other`](Self::Other).
    pub fn of(err: &(dyn StdError + 'static)) -> Self {
        if let Some(e) = find_error::<crate::Error>(err) {
            return e.class();
        }
        let mut cur = Some(err);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<io::Error>() {
                return Self::of_io_kind(io.kind());
            }
            cur = e.source();
        }
        Self::Other
    }
}

/// A protocol crate's error (HLS, progressive file), carried typed inside
/// [`Error::Protocol`](crate::Error::Protocol) so the stream error can classify it without knowing
/// the protocol, and a caller can get it back with [`find_error`].
pub trait ProtocolError: StdError + Send + Sync + 'static {
    /// The flat classification of this error.
    fn class(&self) -> ErrorClass;

    /// The `io::ErrorKind` a reader gets when this error ends a read. Default: `Other`.
    fn io_kind(&self) -> io::ErrorKind {
        io::ErrorKind::Other
    }

    /// This error as a plain `std::error::Error` (implement as `self`).
    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static);
}

/// Finds the first `E` behind `err`: `err` itself, its `source()` chain, the payloads of
/// `io::Error`s on the way (what `Stream`'s `Read` returns), and the protocol error inside a
/// [`crate::Error::Protocol`]. One call from any error a `Stream<T>` or a decoder returns.
pub fn find_error<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut cur = Some(err);
    // Bounded: an error chain is short; a cycle cannot be built with owned sources, but a bound
    // costs nothing.
    for _ in 0..64 {
        let e = cur?;
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        cur = next_layer(e);
    }
    None
}

/// The layer under `e`: an `io::Error`'s payload (its `source()` skips it), a protocol error
/// behind [`crate::Error::Protocol`] (transparent, so its `source()` skips it too), else `source()`.
fn next_layer<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = e.downcast_ref::<io::Error>() {
        if let Some(inner) = io.get_ref() {
            return Some(inner);
        }
    }
    match e.downcast_ref::<crate::Error>() {
        Some(crate::Error::Protocol(p)) => return Some(p.as_error()),
        // Transparent too: its `source()` is the storage error's own source.
        Some(crate::Error::Storage(s)) => return Some(s.as_ref()),
        _ => {}
    }
    e.source()
}

impl crate::Error {
    /// The flat classification of this error, looking through retries, writes and the protocol
    /// error inside.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::HttpStatus { status, .. } => match status {
                404 | 410 => ErrorClass::NotFound,
                401 | 403 => ErrorClass::AccessDenied,
                _ => ErrorClass::Network,
            },
            Self::Transport { kind, .. } => match kind {
                TransportKind::Timeout => ErrorClass::Timeout,
                TransportKind::Invalid => ErrorClass::InvalidInput,
                _ => ErrorClass::Network,
            },
            Self::Inactivity { .. } | Self::WaitTimeout { .. } => ErrorClass::Timeout,
            Self::ShortBody { .. }
            | Self::UnexpectedRange { .. }
            | Self::RangeNotSatisfiable { .. }
            | Self::RangeNotHonoured { .. } => ErrorClass::Network,
            Self::ResourceChanged { .. } => ErrorClass::ContentChanged,
            Self::RetriesExhausted { last, .. } => last.class(),
            Self::Write { source, .. } => source.class(),
            Self::BlockingOnRuntime { .. } => ErrorClass::Misuse,
            Self::InvalidSeek { .. } => ErrorClass::InvalidInput,
            Self::TimeSeekUnsupported => ErrorClass::Unsupported,
            Self::Storage(_) => ErrorClass::Storage,
            Self::Protocol(p) => p.class(),
            Self::Cancelled => ErrorClass::Cancelled,
            _ => ErrorClass::Other,
        }
    }
}

/// A shared cause that is not one of our errors, carried in [`Error::Protocol`](crate::Error::Protocol).
#[derive(Debug)]
pub(crate) struct Foreign(pub(crate) SharedError);

impl std::fmt::Display for Foreign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Foreign {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl ProtocolError for Foreign {
    fn class(&self) -> ErrorClass {
        ErrorClass::of(self.0.as_ref())
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}
