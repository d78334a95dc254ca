//! Cache-backed storage: a [`StorageResource`] whose bytes live in the data
//! file of a persistent [`Asset`] and whose facts (present ranges, length,
//! validator) start from the asset's index and are recorded back into it.
//!
//! - Opening never truncates: the resource is seeded from the index, so a
//!   reader can be served cached bytes with no request at all.
//! - Every committed write is recorded with the asset (`record_deferred`);
//!   when a batch is due the flush (`fdatasync`, then the index) runs right
//!   there. Writes of this backend block (`writes_block()`), so the
//!   downloader already runs them on a blocking thread, never on an async
//!   worker.
//! - The length and validator the download learns are stored in the index.
//! - A changed version is dropped whole with [`StorageResource::discard_cached`],
//!   which empties the asset and hands out a fresh, empty resource over it;
//!   it is meant for the time before a reader sees the resource (opening and
//!   revalidating), because a resource's committed bytes never change.
//!
//! Failing to record (a full disk while writing the index) does not fail the
//! write: the bytes are in the data file and the reader of this session gets
//! them; the cache only forgets them, so a later session fetches them again.

use std::ops::Range;
use std::sync::Arc;

use crate::cache::{Asset, AssetKey, AssetStore, CacheError, Validators};
use crate::file::FileBackend;
use crate::resource::Seed;
use crate::{Error, Result, StorageResource, Validator};

/// The bytes of one cached asset: its data file, and the asset that records them.
#[derive(Debug)]
pub(crate) struct CacheBackend {
    file: FileBackend,
    asset: Arc<Asset>,
}

impl CacheBackend {
    /// Writes `data` at `offset` into the data file, then records the range.
    pub(crate) fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.file.write(offset, data)?;
        if data.is_empty() {
            return Ok(());
        }
        let range = offset..offset + data.len() as u64;
        match self.asset.record_deferred(range.clone()) {
            Ok(true) => self.flush(),
            Ok(false) => {}
            Err(e) => self.warn("record", &range, &e),
        }
        Ok(())
    }

    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read(offset, buf)
    }

    fn flush(&self) {
        if let Err(e) = self.asset.flush() {
            tracing::warn!(asset = %self.asset.id(), error = %e,
                "could not record downloaded bytes in the cache; they will be fetched again next time");
        }
    }

    fn warn(&self, op: &str, range: &Range<u64>, e: &CacheError) {
        tracing::warn!(asset = %self.asset.id(), op, ?range, error = %e,
            "could not record downloaded bytes in the cache; they will be fetched again next time");
    }

    /// Stores the length learnt from the server in the index.
    pub(crate) fn on_len(&self, len: u64) {
        if let Err(e) = self.asset.set_len(len) {
            tracing::warn!(asset = %self.asset.id(), len, error = %e, "could not record the length in the cache");
        }
    }

    /// Stores the validator learnt from the server in the index, keeping the content type.
    pub(crate) fn on_validator(&self, v: &Validator) {
        let known = self.asset.index().validators().clone();
        let merged = Validators::new(
            v.etag.clone(),
            v.last_modified.clone(),
            known.content_type.clone(),
        );
        if merged == known {
            return;
        }
        if let Err(e) = self.asset.set_validators(merged) {
            tracing::warn!(asset = %self.asset.id(), error = %e, "could not record the validator in the cache");
        }
    }

    pub(crate) fn asset(&self) -> &Arc<Asset> {
        &self.asset
    }
}

impl StorageResource {
    /// A resource over the data file of `asset` (opened writable), seeded
    /// with what its index records: present ranges, length and validator.
    /// Nothing is truncated. While the resource (or a clone) lives, the
    /// asset stays open, so it is locked and pinned against eviction.
    ///
    /// # Errors
    /// [`Error::Cache`] if the asset is read-only, [`Error::Io`] if its data
    /// file cannot be duplicated.
    pub fn cached(asset: Asset) -> Result<Self> {
        if !asset.is_writable() {
            return Err(Error::Cache(CacheError::ReadOnly {
                id: asset.id(),
                op: "cached storage",
            }));
        }
        let file = asset.data_file().try_clone().map_err(|source| Error::Io {
            op: "open",
            path: asset.data_path().to_path_buf(),
            offset: 0,
            source,
        })?;
        let file = FileBackend::from_file(file, asset.data_path().to_path_buf());
        let index = asset.index();
        let v = index.validators();
        let seed = Seed {
            ranges: index.present().clone(),
            len: index.total_len(),
            validator: Validator::new(v.etag.clone(), v.last_modified.clone()),
        };
        tracing::debug!(asset = %asset.id(), covered = seed.ranges.covered(), len = ?seed.len,
            "opening cached storage");
        Ok(Self::seeded(
            CacheBackend {
                file,
                asset: Arc::new(asset),
            },
            seed,
        ))
    }

    /// The cached asset behind this resource, if it is cache-backed.
    pub fn asset(&self) -> Option<&Arc<Asset>> {
        self.cache_backend().map(CacheBackend::asset)
    }

    /// Drops every cached byte of this resource's asset (the server's version
    /// changed) and returns a fresh, empty resource over it; this resource is
    /// cancelled. Only for use before a reader has seen the bytes. A resource
    /// that is not cache-backed is cancelled and replaced by an empty one of
    /// the same kind.
    ///
    /// # Errors
    /// [`Error::Cache`] if the asset cannot be emptied.
    pub fn discard_cached(&self) -> Result<Self> {
        self.cancel();
        let Some(backend) = self.cache_backend() else {
            return match self.kind() {
                crate::BackendKind::Memory => Ok(Self::memory()),
                _ => Self::temp_file(),
            };
        };
        let asset = Arc::clone(backend.asset());
        asset.discard().map_err(Error::Cache)?;
        let file = asset.data_file().try_clone().map_err(|source| Error::Io {
            op: "open",
            path: asset.data_path().to_path_buf(),
            offset: 0,
            source,
        })?;
        let file = FileBackend::from_file(file, asset.data_path().to_path_buf());
        Ok(Self::seeded(CacheBackend { file, asset }, Seed::default()))
    }

    /// Records the content type of the cached version (for offline opens).
    /// A no-op for storage that is not cache-backed.
    pub fn set_content_type(&self, content_type: Option<String>) {
        let Some(asset) = self.asset() else { return };
        let known = asset.index().validators().clone();
        if known.content_type == content_type {
            return;
        }
        let merged = Validators::new(known.etag, known.last_modified, content_type);
        if let Err(e) = asset.set_validators(merged) {
            tracing::warn!(asset = %asset.id(), error = %e, "could not record the content type in the cache");
        }
    }

    /// The content type recorded with the cached asset, if any.
    pub fn content_type(&self) -> Option<String> {
        self.asset()
            .and_then(|a| a.index().validators().content_type.clone())
    }

    /// Whether the cached asset is complete and may be served without asking
    /// the server (offline-first mode, or validated within the configured
    /// freshness). Always `false` for storage that is not cache-backed.
    pub fn can_skip_revalidation(&self) -> bool {
        self.asset().is_some_and(|a| a.can_skip_revalidation())
    }

    /// Marks the cached version as confirmed by the server now. A no-op for
    /// storage that is not cache-backed.
    pub fn mark_validated(&self) {
        if let Some(a) = self.asset() {
            if let Err(e) = a.mark_validated() {
                tracing::warn!(asset = %a.id(), error = %e, "could not record a validation in the cache");
            }
        }
    }

    /// Syncs and records everything written so far (a no-op unless
    /// cache-backed). Blocks on `fdatasync`: call it off async workers.
    ///
    /// # Errors
    /// [`Error::Cache`] if the flush fails.
    pub fn flush_cache(&self) -> Result<()> {
        match self.asset() {
            Some(a) => a.flush().map_err(Error::Cache),
            None => Ok(()),
        }
    }
}

/// Opens `key` in `store` as cached storage; a writer elsewhere
/// ([`CacheError::Busy`]) makes it fall back to an anonymous temp file.
pub(crate) fn open_in(store: &AssetStore, key: &AssetKey) -> Result<StorageResource> {
    match store.open(key) {
        Ok(asset) => StorageResource::cached(asset),
        Err(e @ CacheError::Busy { .. }) => {
            tracing::warn!(error = %e, "streaming without the cache");
            StorageResource::temp_file()
        }
        Err(e) => Err(Error::Cache(e)),
    }
}
