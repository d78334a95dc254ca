//! Error type of the storage crate.
//!
//! Failures of the *download* (network errors and the like) are not
//! [`Error`]s of this crate: the writer side reports them through
//! [`StorageResource::fail`](crate::StorageResource::fail) and readers see
//! them as [`WaitOutcome::Failed`](crate::WaitOutcome::Failed). [`Error`] is
//! what the storage operations themselves return.

use std::path::PathBuf;

use crate::SharedError;

/// An error returned by a [`StorageResource`](crate::StorageResource)
/// operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// I/O on the disk backend failed.
    #[error("storage I/O error during {op} of {path} at byte offset {offset}")]
    Io {
        /// The operation that failed (`"create"`, `"read"`, `"write"`, ...).
        op: &'static str,
        /// Path of the backing file; `<anonymous temp file>` for
        /// [`StorageResource::temp_file`](crate::StorageResource::temp_file).
        path: PathBuf,
        /// Byte offset in the file at which the operation started.
        offset: u64,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A write reaching beyond the known total length of the resource.
    #[error("write of {len} bytes at offset {offset} reaches beyond the total length {total}")]
    BeyondEnd {
        /// Byte offset of the rejected write.
        offset: u64,
        /// Length of the rejected write, in bytes.
        len: usize,
        /// The known total length in bytes (`u64::MAX` if the write's end
        /// overflowed `u64` while the length was still unknown).
        total: u64,
    },
    /// `set_len` conflicting with a different, earlier length or with bytes
    /// already present beyond the requested length.
    #[error(
        "length {requested} conflicts with known length {known:?} / bytes present up to {present_end}"
    )]
    LengthConflict {
        /// The length (bytes) passed to `set_len`.
        requested: u64,
        /// The length set earlier, if any.
        known: Option<u64>,
        /// End (exclusive) of the last present byte range; `0` if nothing
        /// is present.
        present_end: u64,
    },
    /// Operation on (or wait for) a resource that was cancelled.
    #[error("storage resource was cancelled")]
    Cancelled,
    /// A wait for bytes that are not present: the writer side failed the
    /// resource (see [`fail`](crate::StorageResource::fail)); carries its cause.
    #[error("the download failed")]
    Failed(#[source] SharedError),
    /// A wait whose deadline passed before the bytes arrived.
    #[error("bytes {}..{} not present after {waited:?}", range.start, range.end)]
    TimedOut {
        /// The range waited for.
        range: std::ops::Range<u64>,
        /// How long the wait lasted.
        waited: std::time::Duration,
    },
    /// The persistent cache behind a cache-backed resource failed.
    #[error("cache error")]
    Cache(#[source] crate::CacheError),
    /// A validator different from the one recorded for this resource.
    #[error("validator {new:?} conflicts with the recorded {known:?}")]
    ValidatorConflict {
        /// The validator recorded first.
        known: crate::Validator,
        /// The one offered now.
        new: crate::Validator,
    },
    /// An operation that needs every byte of the resource
    /// ([`export_to`](crate::StorageResource::export_to)) on one that is not complete.
    #[error("the resource is incomplete: {present} bytes present of {}", len.map_or_else(|| String::from("an unknown length"), |l| l.to_string()))]
    Incomplete {
        /// Bytes present.
        present: u64,
        /// The total length, if known.
        len: Option<u64>,
    },
}

impl Error {
    /// Whether this is a wait whose deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut { .. })
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
