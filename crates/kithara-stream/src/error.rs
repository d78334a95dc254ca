//! The crate's error type.
//!
//! Every failure says what failed (method, URL with its query removed, byte range), and why. The type
//! is `Clone` (heavy sources sit behind `Arc`) so one failure can be stored in a
//! [`StorageResource`](kithara_storage::StorageResource) and handed to every reader that waits on it.

use std::{io, ops::Range, sync::Arc, time::Duration};

pub use kithara_storage::SharedError;

pub use crate::redact::{redact_url, RedactedUrl};

use crate::{class::ProtocolError, dl::ByteRange};

/// Result alias with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while opening, downloading or reading a stream.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status that is not retried (404, 403, 410, …) or retries ran out on one.
    #[error("HTTP {status} for {method} {url}{}", fmt_range(range))]
    HttpStatus {
        /// Request method.
        method: http::Method,
        /// Request URL, query removed.
        url: RedactedUrl,
        /// Requested bytes, if the request was ranged.
        range: Option<ByteRange>,
        /// Response status code.
        status: u16,
    },
    /// Connecting, sending or receiving failed at the transport level.
    #[error("{method} {url}{} failed: {kind}", fmt_range(range))]
    Transport {
        /// Request method.
        method: http::Method,
        /// Request URL, query removed.
        url: RedactedUrl,
        /// Requested bytes, if the request was ranged.
        range: Option<ByteRange>,
        /// Which stage failed.
        kind: TransportKind,
        /// The HTTP client's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The server sent nothing (no headers, or no body bytes) for longer than the inactivity timeout.
    #[error("no data from {url}{} for {timeout:?}", fmt_range(range))]
    Inactivity {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// Requested bytes, if the request was ranged.
        range: Option<ByteRange>,
        /// The configured inactivity timeout.
        timeout: Duration,
    },
    /// The body ended before the length the server announced.
    #[error("body of {url} ended at byte {got}, expected {expected}")]
    ShortBody {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// Absolute offset where the body stopped.
        got: u64,
        /// Absolute offset where it should have stopped.
        expected: u64,
    },
    /// The server answered a ranged request with a range we did not ask for.
    #[error("{url}: asked for bytes {requested}, server sent {answered:?}")]
    UnexpectedRange {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// What was requested.
        requested: ByteRange,
        /// The `Content-Range` header as sent.
        answered: String,
    },
    /// The requested range starts at or beyond the resource's end (HTTP 416).
    #[error("{url}: bytes {range} are beyond the end ({total:?} bytes)")]
    RangeNotSatisfiable {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// What was requested.
        range: ByteRange,
        /// Total length from `Content-Range: bytes */N`, when sent.
        total: Option<u64>,
    },
    /// The resource changed between two requests (another `ETag`/`Last-Modified`, another total
    /// length), so bytes of the two versions cannot be combined.
    #[error("{url} changed while it was being downloaded ({before} became {after})")]
    ResourceChanged {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// What was known (`ETag "a"`, `8388608 bytes`).
        before: String,
        /// What the later response said.
        after: String,
    },
    /// A ranged request got a `200` whose body cannot be the same resource read from the start
    /// (it ends before the requested offset), so the server does not honour the range.
    #[error(
        "{url}: asked for bytes {requested}, got HTTP {status} with a body of {body_len:?} bytes"
    )]
    RangeNotHonoured {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// What was requested.
        requested: ByteRange,
        /// Status of the answer.
        status: u16,
        /// Length of the body, if it was announced or read to the end.
        body_len: Option<u64>,
    },
    /// Every attempt failed; `last` is the final attempt's error.
    #[error("gave up on {url} after {attempts} attempt{}", if *attempts == 1 { "" } else { "s" })]
    RetriesExhausted {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        last: Box<Error>,
    },
    /// The command's writer refused a chunk (storage full, I/O error, …).
    #[error("storing bytes of {url} at offset {offset} failed")]
    Write {
        /// Request URL, query removed.
        url: RedactedUrl,
        /// Absolute offset of the refused chunk.
        offset: u64,
        /// The writer's error.
        #[source]
        source: Box<Error>,
    },
    /// The HTTP client could not be built (TLS set-up), so no request can be made.
    #[error("the HTTP client could not be built")]
    Client(#[source] Arc<reqwest::Error>),
    /// A synchronous reader waited for bytes longer than its budget.
    #[error("bytes {}..{} not available after waiting {waited:?}", range.start, range.end)]
    WaitTimeout {
        /// The byte range the reader waited for.
        range: Range<u64>,
        /// How long it waited.
        waited: Duration,
    },
    /// A read had to wait for bytes on a thread that runs a tokio runtime's async code (inside an
    /// async task, or a `block_on`/`#[tokio::main]` future), where the wait would stall the very
    /// runtime that downloads the bytes. Read from `tokio::task::spawn_blocking`, a plain thread,
    /// or `block_in_place` instead. Bytes already present are read anywhere.
    #[error(
        "reading bytes {}..{} would block a tokio runtime thread: read the stream from spawn_blocking or a plain thread",
        range.start, range.end
    )]
    BlockingOnRuntime {
        /// The byte range the read would have waited for.
        range: Range<u64>,
    },
    /// A seek that cannot be done: before byte 0, overflowing, or from the end of a stream whose length is unknown.
    #[error("invalid seek: {reason}")]
    InvalidSeek {
        /// Why.
        reason: &'static str,
    },
    /// The stream cannot seek by time (a progressive file without a time map).
    #[error("this stream cannot seek by time")]
    TimeSeekUnsupported,
    /// The storage layer failed (I/O, a length or validator conflict).
    #[error(transparent)]
    Storage(Arc<kithara_storage::Error>),
    /// A protocol crate's own error (playlist, key, local file, …), kept typed behind the `Arc`:
    /// get it back with the protocol's `Error::find` (e.g. `kithara_hls::Error::find(&err)`) or
    /// [`find_error`](crate::find_error); [`class`](Self::class) classifies it.
    #[error(transparent)]
    Protocol(Arc<dyn ProtocolError>),
    /// The stream or download was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// The stage at which a transport error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The TCP/TLS connection could not be made.
    Connect,
    /// A timeout inside the HTTP client.
    Timeout,
    /// The connection failed while sending the request or reading headers.
    Request,
    /// The connection failed while reading the body (reset, truncated).
    Body,
    /// Too many redirects, or a redirect that cannot be followed.
    Redirect,
    /// The request could not be made at all (unsupported URL scheme, invalid header).
    Invalid,
    /// Anything else.
    Other,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "could not connect",
            Self::Timeout => "timed out",
            Self::Request => "request failed",
            Self::Body => "body transfer failed",
            Self::Redirect => "redirect failed",
            Self::Invalid => "request is invalid",
            Self::Other => "transport error",
        })
    }
}

/// ` bytes a..b` for a partial request; nothing for a whole-resource one (`0..`).
fn fmt_range(range: &Option<ByteRange>) -> String {
    match range {
        Some(r) if *r != ByteRange::from_start(0) => format!(" bytes {r}"),
        _ => String::new(),
    }
}

impl Error {
    /// The HTTP status, if this error (or the last retry it wraps) is a status error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::HttpStatus { status, .. } => Some(*status),
            Self::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The typed error inside an `io::Error` returned by [`Stream`](crate::Stream)'s `Read` or
    /// `Seek`, if it carries one.
    ///
    /// ```
    /// # fn demo(err: std::io::Error) {
    /// if let Some(e) = kithara_stream::Error::from_io(&err) {
    ///     if e.status() == Some(404) { /* gone */ }
    /// }
    /// # }
    /// ```
    pub fn from_io(err: &io::Error) -> Option<&Error> {
        err.get_ref().and_then(|e| e.downcast_ref::<Error>())
    }

    /// Whether the server answered with an HTTP error status (see [`status`](Self::status)).
    pub fn is_status(&self) -> bool {
        self.status().is_some()
    }

    /// Whether the resource changed on the server while it was read.
    pub fn is_resource_changed(&self) -> bool {
        matches!(self, Self::ResourceChanged { .. })
    }

    /// Whether something took too long: a reader wait, server inactivity, or a client timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::WaitTimeout { .. } | Self::Inactivity { .. } => true,
            Self::Transport { kind, .. } => *kind == TransportKind::Timeout,
            Self::RetriesExhausted { last, .. } => last.is_timeout(),
            _ => false,
        }
    }

    /// Whether a connection could not be made.
    pub fn is_connect(&self) -> bool {
        match self {
            Self::Transport { kind, .. } => *kind == TransportKind::Connect,
            Self::RetriesExhausted { last, .. } => last.is_connect(),
            _ => false,
        }
    }

    /// Whether this is a cancellation rather than a failure.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// The URL involved, if any (query removed).
    pub fn url(&self) -> Option<&RedactedUrl> {
        match self {
            Self::HttpStatus { url, .. }
            | Self::Transport { url, .. }
            | Self::Inactivity { url, .. }
            | Self::ShortBody { url, .. }
            | Self::UnexpectedRange { url, .. }
            | Self::RangeNotSatisfiable { url, .. }
            | Self::ResourceChanged { url, .. }
            | Self::RangeNotHonoured { url, .. }
            | Self::RetriesExhausted { url, .. }
            | Self::Write { url, .. } => Some(url),
            _ => None,
        }
    }

    /// Wraps a protocol crate's own error as [`Error::Protocol`], keeping it typed behind the `Arc`.
    pub fn protocol(e: impl ProtocolError) -> Self {
        Self::Protocol(Arc::new(e))
    }

    /// Wraps any other error of the caller's (a writer's, an `on_response` rejection's) as
    /// [`Error::Protocol`]; [`find_error`](crate::find_error) gets it back, and it is classified by
    /// what [`ErrorClass::of`](crate::ErrorClass::of) finds inside it.
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Protocol(Arc::new(crate::class::Foreign(Arc::new(e))))
    }

    /// Recovers a typed error from a shared cause: a clone if it is one of ours, else
    /// [`Error::Protocol`] around it (classified [`ErrorClass::Other`](crate::ErrorClass::Other)).
    pub fn from_shared(cause: SharedError) -> Self {
        match cause.downcast_ref::<Error>() {
            Some(ours) => ours.clone(),
            None => Self::Protocol(Arc::new(crate::class::Foreign(cause))),
        }
    }

    /// Converts into the `io::Error` handed to `Read`/`Seek` callers, choosing the kind on purpose and
    /// keeping `self` as the payload so callers can downcast it.
    pub fn into_io(self) -> io::Error {
        let kind = self.io_kind();
        io::Error::new(kind, self)
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Self::RetriesExhausted { last, .. } => last.io_kind(),
            e if e.is_timeout() => io::ErrorKind::TimedOut,
            Self::HttpStatus {
                status: 404 | 410, ..
            } => io::ErrorKind::NotFound,
            Self::HttpStatus {
                status: 401 | 403, ..
            } => io::ErrorKind::PermissionDenied,
            Self::Transport {
                kind: TransportKind::Connect,
                ..
            } => io::ErrorKind::ConnectionRefused,
            // Not `UnexpectedEof`: demuxers (symphonia's, the TS reader) take that kind for a
            // clean end of the media, which would turn a cut download into a shorter track.
            Self::ShortBody { .. } => io::ErrorKind::ConnectionAborted,
            Self::BlockingOnRuntime { .. } => io::ErrorKind::Unsupported,
            Self::InvalidSeek { .. }
            | Self::TimeSeekUnsupported
            | Self::Transport {
                kind: TransportKind::Invalid,
                ..
            } => io::ErrorKind::InvalidInput,
            Self::Protocol(p) => p.io_kind(),
            _ => io::ErrorKind::Other,
        }
    }
}

impl From<kithara_storage::Error> for Error {
    /// Storage's wait errors become the reader's: a failed download is its cause, a cancel is a
    /// cancel, a passed deadline is a [`WaitTimeout`](Error::WaitTimeout).
    fn from(e: kithara_storage::Error) -> Self {
        match e {
            kithara_storage::Error::Failed(cause) => Self::from_shared(cause),
            kithara_storage::Error::Cancelled => Self::Cancelled,
            kithara_storage::Error::TimedOut { range, waited } => {
                Self::WaitTimeout { range, waited }
            }
            other => Self::Storage(Arc::new(other)),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        e.into_io()
    }
}

#[cfg(test)]
mod tests;
