//! Cache-backed storage: a [`StorageResource`] whose bytes live in the data
//! file of a persistent [`Asset`] and whose facts (present ranges, length,
//! validator) start from the asset's index and are recorded back into it.
//!
//! - Opening never truncates: the resource is seeded from the index, so a
//!   reader can be served cached bytes with no request at all.
//! - Every committed write is recorded with the asset (`record_deferred`);
//!   when a batch is due, the resource's flusher thread syncs the data file
//!   and writes the index while the writer goes on writing (`fdatasync` would
//!   otherwise stall the download). Writes of this backend block
//!   (`writes_block()`), so the downloader runs them on a blocking thread,
//!   never on an async worker. Dropping the resource never blocks: the
//!   flusher does the last flush and then closes the asset (releasing its
//!   lock); reopening right after a drop (`StorageKind::create_for`,
//!   `AssetStore::open_waiting`) waits for that release, woken by it.
//! - The length, validator and content type the download learns, and a
//!   successful revalidation, are noted in memory and written to the index
//!   by the next write, `flush_cache`, or when the resource is dropped: they
//!   are learnt in response callbacks on async workers, which must not block
//!   on the index's `fsync`.
//! - A changed version is dropped whole with [`StorageResource::discard_cached`],
//!   which empties the asset and hands out a fresh, empty resource over it;
//!   it is meant for the time before a reader sees the resource (opening and
//!   revalidating), because a resource's committed bytes never change.
//!
//! Failing to record (a full disk while writing the index) does not fail the
//! write: the bytes are in the data file and the reader of this session gets
//! them; the cache only forgets them, so a later session fetches them again.

use std::ops::Range;
mod recorder;

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use recorder::{lock, PendingMeta, Recorder};

use std::time::Duration;

use crate::cache::{Asset, AssetKey, AssetStore, CacheError};
use crate::file::FileBackend;
use crate::resource::Seed;
use crate::{Error, Result, StorageResource, Validator};

/// The bytes of one cached asset: its data file, and what records them.
#[derive(Debug)]
pub(crate) struct CacheBackend {
    file: FileBackend,
    rec: Arc<Recorder>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl Drop for CacheBackend {
    fn drop(&mut self) {
        let Some(flusher) = self.flusher.take() else {
            self.rec.flush();
            return;
        };
        // Nothing to sync and no flush running: the flusher only closes the asset, so wait for
        // it and the asset's lock is free when the drop returns. Otherwise it writes what is
        // left and then closes the asset, off this thread (which may be an async worker).
        let clean = !self.rec.has_meta()
            && self.rec.asset.pending().is_empty()
            && self.rec.flush_lock.try_lock().is_ok();
        lock(&self.rec.signal).closing = true;
        self.rec.wake.notify_one();
        if clean && flusher.join().is_err() {
            tracing::warn!("the cache flusher thread panicked");
        }
    }
}

impl CacheBackend {
    /// A backend over `asset`, with a flusher thread (or inline flushes if none can be started).
    fn new(file: FileBackend, asset: Arc<Asset>) -> Self {
        let rec = Arc::new(Recorder::new(asset));
        let worker = Arc::clone(&rec);
        let spawned = std::thread::Builder::new()
            .name(String::from("kithara-cache-flush"))
            .spawn(move || worker.run_flusher());
        let flusher = match spawned {
            Ok(handle) => {
                rec.background.store(true, Ordering::Release);
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no cache flusher thread; flushing inline");
                None
            }
        };
        Self { file, rec, flusher }
    }

    /// Writes `data` at `offset` into the data file, then records the range.
    pub(crate) fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        if self.rec.has_meta() {
            // The length must reach the index before ranges are checked against it.
            let _flushing = lock(&self.rec.flush_lock);
            self.rec.apply_meta();
            if let Some(len) = self.rec.asset.index().total_len() {
                // Writes inside the file's length do not change its size, so they do not wait
                // for the journal while the flusher syncs an earlier batch.
                self.file.grow_to(len)?;
            }
        }
        self.file.write(offset, data)?;
        if data.is_empty() {
            return Ok(());
        }
        let range = offset..offset + data.len() as u64;
        match self.rec.asset.record_deferred(range.clone()) {
            Ok(true) => self.rec.flush_due(),
            Ok(false) => {}
            Err(e) => self.warn("record", &range, &e),
        }
        Ok(())
    }

    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read(offset, buf)
    }

    fn warn(&self, op: &str, range: &Range<u64>, e: &CacheError) {
        tracing::warn!(asset = %self.rec.asset.id(), op, ?range, error = %e,
            "could not record downloaded bytes in the cache; they will be fetched again next time");
    }

    fn meta(&self) -> MutexGuard<'_, PendingMeta> {
        self.rec.meta()
    }

    /// Notes the length learnt from the server, for the index.
    pub(crate) fn on_len(&self, len: u64) {
        if self.rec.asset.index().total_len() != Some(len) {
            self.meta().len = Some(len);
        }
    }

    /// Notes the validator learnt from the server, for the index.
    pub(crate) fn on_validator(&self, v: &Validator) {
        let known = self.rec.asset.index();
        let k = known.validators();
        if k.etag != v.etag || k.last_modified != v.last_modified {
            self.meta().validator = Some(v.clone());
        }
    }

    pub(crate) fn asset(&self) -> &Arc<Asset> {
        &self.rec.asset
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
        Ok(Self::seeded(CacheBackend::new(file, Arc::new(asset)), seed))
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
        // What the old version's responses said must not reach the emptied index.
        *backend.meta() = PendingMeta::default();
        let asset = Arc::clone(backend.asset());
        asset.discard().map_err(Error::Cache)?;
        let file = asset.data_file().try_clone().map_err(|source| Error::Io {
            op: "open",
            path: asset.data_path().to_path_buf(),
            offset: 0,
            source,
        })?;
        let file = FileBackend::from_file(file, asset.data_path().to_path_buf());
        Ok(Self::seeded(
            CacheBackend::new(file, asset),
            Seed::default(),
        ))
    }

    /// Notes the content type of the cached version (for offline opens); it
    /// reaches the index with the next write, flush or drop. A no-op for
    /// storage that is not cache-backed.
    pub fn set_content_type(&self, content_type: Option<String>) {
        let Some(c) = self.cache_backend() else {
            return;
        };
        if content_type.is_some() && c.asset().index().validators().content_type != content_type {
            c.meta().content_type = content_type;
        }
    }

    /// The content type recorded with the cached asset, if any.
    pub fn content_type(&self) -> Option<String> {
        let c = self.cache_backend()?;
        let pending = c.meta().content_type.clone();
        pending.or_else(|| c.asset().index().validators().content_type.clone())
    }

    /// Whether the cached asset is complete and may be served without asking
    /// the server (offline-first mode, or validated within the configured
    /// freshness). Always `false` for storage that is not cache-backed.
    pub fn can_skip_revalidation(&self) -> bool {
        self.asset().is_some_and(|a| a.can_skip_revalidation())
    }

    /// Notes that the server confirmed the cached version now; it reaches
    /// the index with the next write, flush or drop. A no-op for storage
    /// that is not cache-backed.
    pub fn mark_validated(&self) {
        if let Some(c) = self.cache_backend() {
            c.meta().validated = true;
        }
    }

    /// Syncs and records everything written so far (a no-op unless
    /// cache-backed). Blocks on `fdatasync`: call it off async workers.
    ///
    /// # Errors
    /// [`Error::Cache`] if the flush fails.
    pub fn flush_cache(&self) -> Result<()> {
        match self.cache_backend() {
            Some(c) => {
                let _flushing = lock(&c.rec.flush_lock);
                c.rec.apply_meta();
                c.asset().flush().map_err(Error::Cache)
            }
            None => Ok(()),
        }
    }
}

/// How long opening waits for another handle to release a busy asset (a stream of the same
/// file that was just dropped, whose flusher is finishing) before streaming uncached.
pub(crate) const BUSY_WAIT: Duration = Duration::from_millis(500);

/// Opens `key` in `store` as cached storage. A writer elsewhere ([`CacheError::Busy`]) is waited
/// for briefly (see [`AssetStore::open_waiting`]), then the stream falls back to an anonymous
/// temp file; so does any other cache failure (a broken directory must not stop playback), with
/// a warning.
pub(crate) fn open_in(store: &AssetStore, key: &AssetKey) -> Result<StorageResource> {
    match store.open_waiting(key, BUSY_WAIT) {
        Ok(asset) => StorageResource::cached(asset),
        Err(e) => {
            tracing::warn!(error = %e, "cannot use the cache for this stream; streaming uncached");
            StorageResource::temp_file()
        }
    }
}
