//! [`StorageKind`]: which backend a stream's bytes go to, chosen in a protocol's config
//! (`FileConfig`, `HlsConfig`) and turned into a [`StorageResource`] when the stream opens.

use std::path::PathBuf;

use crate::{AssetKey, AssetStore, Result, StorageResource};

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
    /// The persistent cache: each asset (named by its [`AssetKey`]: the canonical URL, plus a
    /// segment identity for HLS) lives in this store, resumes where an earlier session stopped
    /// and is served without the network once complete. Create with
    /// [`create_for`](Self::create_for).
    Cache(AssetStore),
    /// A file at this path that survives interruptions: an index beside it (the path with
    /// `.idx` appended) records which bytes are real, so a later stream of the same URL resumes
    /// where this one stopped (see [`AssetStore::open_standalone`]); another URL starts it
    /// afresh. Create with [`create_for`](Self::create_for); a second writer of the same file
    /// gets [`CacheError::Busy`](crate::CacheError::Busy) if the first does not release it
    /// within a short wait (up to 500 ms).
    Resumable(PathBuf),
    /// At most `capacity` bytes in memory, of which up to `keep_behind` bytes already read stay
    /// for seeking back (see [`StorageResource::ring_with`]): an endless stream (internet radio)
    /// in bounded memory, or a finite file read forwards without holding all of it. A seek back
    /// before the bytes kept fails with [`Error::Evicted`](crate::Error::Evicted).
    Ring {
        /// The most bytes kept at once.
        capacity: u64,
        /// Bytes kept behind the reader (at most half the capacity).
        keep_behind: u64,
    },
}

impl StorageKind {
    /// Creates an empty resource of this kind. [`StorageKind::Cache`] needs to know which asset:
    /// without a key it gives an anonymous temp file (nothing is cached); use
    /// [`create_for`](Self::create_for). Without a key [`StorageKind::Resumable`] behaves as
    /// [`StorageKind::Disk`] (truncated, no index).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if a file backend cannot be created.
    pub fn create(&self) -> Result<StorageResource> {
        match self {
            Self::Memory => Ok(StorageResource::memory()),
            Self::Ring {
                capacity,
                keep_behind,
            } => Ok(StorageResource::ring_with(*capacity, *keep_behind)),
            Self::TempFile | Self::Cache(_) => StorageResource::temp_file(),
            Self::Disk(path) | Self::Resumable(path) => StorageResource::disk(path.clone()),
        }
    }

    /// Creates the resource of the asset `key`: for [`StorageKind::Cache`] the cached asset,
    /// seeded with what earlier sessions stored (see [`StorageResource::cached`]); if another
    /// writer holds it past a short wait (up to 500 ms), or the cache fails, an anonymous temp
    /// file (with a warning). Blocks on file I/O: call it off async workers. Other kinds ignore the key and
    /// behave as [`create`](Self::create).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if a file cannot be created,
    /// [`Error::Cache`](crate::Error::Cache) if a [`StorageKind::Resumable`] file cannot be
    /// opened (another writer holds it past the short wait:
    /// [`CacheError::Busy`](crate::CacheError::Busy)).
    pub fn create_for(&self, key: &AssetKey) -> Result<StorageResource> {
        match self {
            Self::Cache(store) => crate::cached::open_in(store, key),
            Self::Resumable(path) => {
                let asset =
                    AssetStore::open_standalone_waiting(key, path, crate::cached::BUSY_WAIT)
                        .map_err(crate::Error::Cache)?;
                StorageResource::cached(asset)
            }
            other => other.create(),
        }
    }

    /// The cache store, for [`StorageKind::Cache`].
    pub fn store(&self) -> Option<&AssetStore> {
        match self {
            Self::Cache(store) => Some(store),
            _ => None,
        }
    }
}
