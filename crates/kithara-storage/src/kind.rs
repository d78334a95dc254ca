//! [`StorageKind`]: which backend a stream's bytes go to, chosen in a protocol's config
//! (`FileConfig`, `HlsConfig`) and turned into a [`StorageResource`] when the stream opens.

use std::path::PathBuf;

use crate::{Result, StorageResource};

/// Where a stream's downloaded bytes are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageKind {
    /// In memory: the HTTP client's buffers are kept as they arrive. Best for short assets
    /// (segments, small files); a whole long file in memory costs its size in RAM.
    Memory,
    /// A sparse anonymous temporary file, deleted when the stream is dropped. The default for
    /// progressive files: a 1 GiB stream does not live in RAM.
    #[default]
    TempFile,
    /// A sparse file at this path, created (or truncated) and written in place; left on disk.
    Disk(PathBuf),
}

impl StorageKind {
    /// Creates an empty resource of this kind.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if a file backend cannot be created.
    pub fn create(&self) -> Result<StorageResource> {
        match self {
            Self::Memory => Ok(StorageResource::memory()),
            Self::TempFile => StorageResource::temp_file(),
            Self::Disk(path) => StorageResource::disk(path.clone()),
        }
    }
}
