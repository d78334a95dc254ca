//! [`Asset`]: one open cached asset, its data file and its index.
//!
//! Writes to the data file are the caller's (the storage resource writes in
//! place); the asset records which ranges are real. Recording is batched:
//! ranges collect in memory until `record_batch` bytes are pending, the
//! asset becomes complete, or it is flushed or closed. A flush first syncs
//! the data file (`fdatasync`) and only then replaces the index, so the
//! index never names a byte that is not durably on disk.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::error::{io_err, CacheError, CacheResult};
use super::fsutil;
use super::held::{self, HeldGuard};
use super::index::AssetIndex;
use super::key::{AssetId, AssetKey};
use super::layout::AssetPaths;
use super::store::{PinGuard, StoreShared};
use crate::RangeSet;

/// Largest index file read; anything longer is garbage.
const MAX_INDEX_BYTES: u64 = 1 << 26;

/// One cached asset, opened by [`AssetStore::open`](super::AssetStore::open)
/// (writable, exclusive) or
/// [`AssetStore::open_read_only`](super::AssetStore::open_read_only)
/// (shared). While it lives the asset is pinned and locked, so no process
/// evicts it. Dropping it flushes pending ranges (logging a failure);
/// [`Asset::close`] does the same and reports the error.
///
/// Methods take `&self` and do blocking file I/O: call them from a
/// synchronous thread or `spawn_blocking`, not on an async runtime thread.
#[derive(Debug)]
pub struct Asset {
    pub(super) shared: Arc<StoreShared>,
    pub(super) id: AssetId,
    pub(super) paths: AssetPaths,
    pub(super) data: File,
    /// Holds the asset's file lock (exclusive or shared) while it lives.
    _lock: File,
    /// Tells waiters in this process when the lock above is released (drops after it).
    _held: HeldGuard,
    writable: bool,
    state: Mutex<State>,
    /// Serialises index writes; each takes its snapshot of the state while holding it, so a
    /// later write never carries an older index. The write itself (with its `fsync`) runs
    /// outside the state lock, so recording goes on meanwhile.
    persist_lock: Mutex<()>,
    _pin: PinGuard,
}

/// The open files of an asset: its data file and its locked lock file.
pub(crate) struct Handles {
    pub(crate) data: File,
    pub(crate) lock: File,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) index: AssetIndex,
    /// Ranges written but not yet synced and recorded.
    pub(super) pending: RangeSet,
    pub(super) pending_bytes: u64,
    /// Bumped by `discard`; a flush that straddles it drops its ranges.
    pub(super) epoch: u64,
}

/// Finishes opening once the data file is locked and the asset pinned:
/// loads (or resets) the index and touches it.
pub(crate) fn open_locked(
    shared: Arc<StoreShared>,
    key: &AssetKey,
    paths: AssetPaths,
    handles: Handles,
    writable: bool,
    pin: PinGuard,
) -> CacheResult<Option<Asset>> {
    let Handles { data, lock } = handles;
    let id = key.id();
    let label = key.label();
    let index = match load_index(&paths, id, &label, &data)? {
        Some(index) => index,
        None if !writable => return Ok(None),
        None => {
            // Absent or damaged: nothing in the data file can be trusted.
            fsutil::remove_if_exists(&paths.index)?;
            fsutil::remove_if_exists(&paths.key)?;
            data.set_len(0).map_err(io_err("truncate", &paths.data))?;
            AssetIndex::empty(id, label)
        }
    };
    if writable {
        remove_stale_temps(&paths, &id);
        if !shared.config.cache_keys {
            fsutil::remove_if_exists(&paths.key)?;
        }
    }
    let held_guard = held::hold(&paths.lock);
    let asset = Asset {
        shared,
        id,
        paths,
        data,
        _lock: lock,
        _held: held_guard,
        writable,
        state: Mutex::new(State {
            index,
            pending: RangeSet::new(),
            pending_bytes: 0,
            epoch: 0,
        }),
        persist_lock: Mutex::new(()),
        _pin: pin,
    };
    match asset.touch() {
        Ok(()) => {}
        // A reader can do without: the asset just looks older to eviction.
        Err(e) if !writable => {
            tracing::warn!(asset = %id, error = %e, "could not update the last access of a cached asset");
        }
        Err(e) => return Err(e),
    }
    Ok(Some(asset))
}

/// Reads and checks the index; `None` (with a warning if a file was there)
/// when it is missing, damaged, or names bytes beyond the data file.
fn load_index(
    paths: &AssetPaths,
    id: AssetId,
    label: &str,
    data: &File,
) -> CacheResult<Option<AssetIndex>> {
    let Some(bytes) = fsutil::read_small(&paths.index, MAX_INDEX_BYTES)? else {
        return Ok(None);
    };
    let Some(index) = AssetIndex::decode(&bytes, Some(id)) else {
        tracing::warn!(asset = label, path = %paths.index.display(),
            "cache index is damaged; the asset counts as absent and is fetched again");
        return Ok(None);
    };
    let file_len = data.metadata().map_err(io_err("stat", &paths.data))?.len();
    if index.present.max_end() > file_len {
        tracing::warn!(
            asset = label,
            file_len,
            present_end = index.present.max_end(),
            "cache index names bytes beyond its data file; the asset counts as absent"
        );
        return Ok(None);
    }
    Ok(Some(index))
}

/// Removes temp files a crashed writer of this asset left behind. Only
/// called with the exclusive lock held, so no live writer owns them.
fn remove_stale_temps(paths: &AssetPaths, id: &AssetId) {
    let prefix = id.to_hex();
    let Ok(entries) = std::fs::read_dir(&paths.shard) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.contains(".tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Asset {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn writable(&self, op: &'static str) -> CacheResult<()> {
        if self.writable {
            Ok(())
        } else {
            Err(CacheError::ReadOnly { id: self.id, op })
        }
    }

    /// Applies `change` to the state and, if it returns `true`, writes the resulting index. The
    /// state lock is held only while `change` runs and the index is encoded: the write and its
    /// `fsync` happen outside it (under `persist_lock`), so a writer recording ranges never waits
    /// for the disk.
    pub(super) fn update(
        &self,
        change: impl FnOnce(&mut State) -> CacheResult<bool>,
    ) -> CacheResult<()> {
        self.update_then(change, || Ok(()))
    }

    /// [`update`](Self::update), then `after` while index writes are still held back (a
    /// discard truncates the data file before any later flush records into it).
    pub(super) fn update_then(
        &self,
        change: impl FnOnce(&mut State) -> CacheResult<bool>,
        after: impl FnOnce() -> CacheResult<()>,
    ) -> CacheResult<()> {
        let _persisting = self
            .persist_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let encoded = {
            let mut st = self.state();
            if !change(&mut st)? {
                return Ok(());
            }
            st.index.encode()
        };
        fsutil::write_atomic(&self.paths.index, &encoded)?;
        after()
    }

    /// Identity of the asset.
    pub fn id(&self) -> AssetId {
        self.id
    }

    /// Whether this handle may record, discard and set metadata.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Path of the sparse data file. Write it in place (without truncating)
    /// and record what was written.
    pub fn data_path(&self) -> &Path {
        &self.paths.data
    }

    /// The handle of the data file (read-write when writable). The data file
    /// itself is never locked, so other handles may read and write it too.
    pub fn data_file(&self) -> &File {
        &self.data
    }

    /// A snapshot of the recorded state (pending ranges not included).
    pub fn index(&self) -> AssetIndex {
        self.state().index.clone()
    }

    /// Ranges recorded since the last flush, not yet durable.
    pub fn pending(&self) -> RangeSet {
        self.state().pending.clone()
    }

    /// Whether a complete asset may be served with no request at all:
    /// offline-first mode, or metadata validated within
    /// `metadata_freshness`.
    pub fn can_skip_revalidation(&self) -> bool {
        let st = self.state();
        let c = &self.shared.config;
        st.index.is_complete()
            && (c.offline_first || st.index.is_fresh(c.metadata_freshness, SystemTime::now()))
    }

    /// Records that `range` of the data file now holds real bytes. The
    /// bytes must already be written to the file (a `write`/`pwrite` that
    /// returned, not data in a user-space buffer). Becomes durable at the
    /// next flush, which happens here once `record_batch` bytes are pending
    /// or the asset is complete (so this may block on `fdatasync`).
    pub fn record(&self, range: Range<u64>) -> CacheResult<()> {
        let mut st = self.state();
        if self.add_pending(&mut st, range)? {
            self.flush_from(st)?;
        }
        Ok(())
    }

    /// Like [`Asset::record`] but never syncs: returns `true` when a flush
    /// is due (`record_batch` bytes pending, or the asset complete), which
    /// the caller then runs with [`Asset::flush`] off the async runtime
    /// (for example in `spawn_blocking`).
    pub fn record_deferred(&self, range: Range<u64>) -> CacheResult<bool> {
        let mut st = self.state();
        self.add_pending(&mut st, range)
    }

    /// Adds `range` to the pending set; `true` if a flush is due.
    fn add_pending(&self, st: &mut State, range: Range<u64>) -> CacheResult<bool> {
        self.writable("record")?;
        let total = st.index.total_len;
        if range.start >= range.end || total.is_some_and(|len| range.end > len) {
            return Err(CacheError::InvalidRange {
                id: self.id,
                range,
                total,
            });
        }
        st.pending_bytes += range.end - range.start;
        st.pending.insert(range);
        let completes = total.is_some_and(|len| {
            st.index.present.covered() + st.pending.covered() >= len
                && st
                    .pending
                    .gaps(0..len)
                    .iter()
                    .all(|g| st.index.present.contains(g.clone()))
        });
        Ok(completes || st.pending_bytes >= self.shared.config.record_batch)
    }

    /// Syncs the data file and records every pending range durably.
    pub fn flush(&self) -> CacheResult<()> {
        if !self.writable {
            return Ok(());
        }
        self.flush_from(self.state())
    }

    /// Takes the pending ranges, syncs the data file *without* holding the
    /// state lock (so recording goes on meanwhile), then merges them into
    /// the index and persists it under the lock. A `discard` in between
    /// bumps the epoch, and the synced ranges, now stale, are dropped.
    fn flush_from(&self, mut st: MutexGuard<'_, State>) -> CacheResult<()> {
        if st.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut st.pending);
        st.pending_bytes = 0;
        let epoch = st.epoch;
        drop(st);
        self.data
            .sync_data()
            .map_err(io_err("sync", &self.paths.data))?;
        let file_len = self
            .data
            .metadata()
            .map_err(io_err("stat", &self.paths.data))?
            .len();
        if let Some(r) = pending.iter().find(|r| r.end > file_len) {
            return Err(CacheError::Unwritten {
                id: self.id,
                range: r,
                file_len,
            });
        }
        let mut grown = 0;
        self.update(|st| {
            if st.epoch != epoch {
                return Ok(false);
            }
            let before = st.index.present.covered();
            for r in pending.iter() {
                st.index.present.insert(r);
            }
            grown = st.index.present.covered().saturating_sub(before);
            Ok(true)
        })?;
        self.shared.note_growth(grown);
        Ok(())
    }

    /// Drops the asset like a crash would: pending ranges are lost.
    #[cfg(test)]
    pub(crate) fn abandon(self) {
        let mut st = self.state();
        st.pending = RangeSet::new();
        st.pending_bytes = 0;
    }

    /// Flushes pending ranges and closes the asset, releasing its lock and pin.
    pub fn close(self) -> CacheResult<()> {
        self.flush()
    }
}

impl Drop for Asset {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(asset = %self.id, error = %e, "flushing cached asset on drop failed");
        }
    }
}
