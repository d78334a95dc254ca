//! Error type of the persistent asset cache.
//!
//! Kept apart from the crate's [`Error`](crate::Error), which describes
//! operations on an open [`StorageResource`](crate::StorageResource):
//! [`CacheError`] is what opening, recording into and maintaining the cache
//! directory can fail with.

use std::ops::Range;
use std::path::PathBuf;

use super::key::AssetId;

/// An error returned by an [`AssetStore`](super::AssetStore) or
/// [`Asset`](super::Asset) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// No cache directory was configured and the platform has no default one
    /// (no home directory could be found).
    #[error("no cache directory configured and the platform has no default cache directory")]
    NoCacheDir,
    /// A file-system operation on the cache directory failed.
    #[error("cache I/O error during {op} of {path}")]
    Io {
        /// The operation that failed (`"create dir"`, `"open"`, `"sync"`, ...).
        op: &'static str,
        /// The file or directory it was applied to.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The asset is open for writing by another handle, in this process or
    /// another one; the caller should stream it without the cache.
    #[error("cached asset {label} ({id}) is in use by another writer")]
    Busy {
        /// Identity of the asset.
        id: AssetId,
        /// Redacted URL of the asset (no query, no credentials).
        label: String,
    },
    /// A write operation on an asset opened with
    /// [`AssetStore::open_read_only`](super::AssetStore::open_read_only).
    #[error("cached asset {id} is open read-only; {op} needs a writable handle")]
    ReadOnly {
        /// Identity of the asset.
        id: AssetId,
        /// The refused operation (`"record"`, `"discard"`, ...).
        op: &'static str,
    },
    /// A recorded range that is empty or reaches beyond the known length.
    #[error("range {range:?} of cached asset {id} is empty or beyond the total length {total:?}")]
    InvalidRange {
        /// Identity of the asset.
        id: AssetId,
        /// The rejected byte range.
        range: Range<u64>,
        /// The known total length in bytes, if any.
        total: Option<u64>,
    },
    /// A recorded range that the data file does not reach: its bytes were
    /// never written.
    #[error("range {range:?} of cached asset {id} was recorded but the data file ends at byte {file_len}")]
    Unwritten {
        /// Identity of the asset.
        id: AssetId,
        /// The recorded byte range.
        range: Range<u64>,
        /// Length of the data file in bytes.
        file_len: u64,
    },
    /// A total length that differs from the one already known, or that
    /// would cut off bytes already recorded. A changed length means a new
    /// version: [`Asset::discard`](super::Asset::discard) first.
    #[error("length {requested} of cached asset {id} conflicts with known length {known:?} / bytes present up to {present_end}")]
    LengthConflict {
        /// Identity of the asset.
        id: AssetId,
        /// The length (bytes) passed to `set_len`.
        requested: u64,
        /// The length recorded earlier, if any.
        known: Option<u64>,
        /// End (exclusive) of the last recorded byte; `0` if none.
        present_end: u64,
    },
}

/// `Result` with [`CacheError`] as the default error type.
pub type CacheResult<T, E = CacheError> = std::result::Result<T, E>;

/// Builds a closure mapping an `io::Error` into [`CacheError::Io`].
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.into();
    move |source| CacheError::Io { op, path, source }
}
