//! Listing and eviction: what the cache directory holds, and removing
//! whole assets, least recently used first, down to a size.
//!
//! The scan reads the directory without any lock. Each removal then takes
//! the directory lock, checks that the asset is neither pinned in this
//! process nor locked by an open handle anywhere (a non-blocking exclusive
//! lock on its lock file), and that its last access did not change since
//! the scan; only then are its files deleted, index first.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{io_err, CacheResult};
use super::fsutil::{self, DirLock, Locked};
use super::index::{self, AssetIndex};
use super::key::AssetId;
use super::layout::{self, INDEX_EXT};
use super::store::StoreShared;

/// One asset as listed by [`AssetStore::list`](super::AssetStore::list).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AssetEntry {
    /// Identity of the asset (names its files).
    pub id: AssetId,
    /// Redacted URL, or `None` if the index is missing or damaged.
    pub label: Option<String>,
    /// Bytes its files occupy on disk.
    pub size_on_disk: u64,
    /// Total length in bytes, once known.
    pub total_len: Option<u64>,
    /// Bytes recorded as present.
    pub present_bytes: u64,
    /// Whether every byte is present.
    pub complete: bool,
    /// Last open or touch; the Unix epoch for a damaged asset.
    pub last_access: SystemTime,
}

impl AssetEntry {
    /// Percent of the asset present, once its length is known.
    pub fn percent_complete(&self) -> Option<f64> {
        index::percent(self.present_bytes, self.total_len)
    }
}

/// What a [`gc`](super::AssetStore::gc) or
/// [`clear`](super::AssetStore::clear) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// Assets removed.
    pub removed: usize,
    /// Bytes on disk freed.
    pub freed_bytes: u64,
    /// Assets that would have been removed but were in use.
    pub skipped_in_use: usize,
    /// Bytes on disk left.
    pub remaining_bytes: u64,
}

/// An asset found by a scan.
struct Scanned {
    files: Vec<PathBuf>,
    size: u64,
    index: Option<AssetIndex>,
}

impl StoreShared {
    /// Groups the files under `assets/` by the asset they belong to.
    fn scan(&self) -> CacheResult<BTreeMap<AssetId, Scanned>> {
        let mut out: BTreeMap<AssetId, Scanned> = BTreeMap::new();
        let assets = self.layout.assets();
        let shards = match fs::read_dir(&assets) {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err("list", &assets)(e)),
        };
        for shard in shards.flatten() {
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                let Some(id) = name.to_str().and_then(layout::owner_of) else {
                    continue;
                };
                // Gone since it was listed: another process removed it.
                let Ok(meta) = fs::symlink_metadata(file.path()) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let entry = out.entry(id).or_insert_with(|| Scanned {
                    files: Vec::new(),
                    size: 0,
                    index: None,
                });
                entry.size += fsutil::size_on_disk(&meta);
                if file.path().extension().is_some_and(|e| e == INDEX_EXT) {
                    entry.index = read_index(&file.path(), id);
                }
                entry.files.push(file.path());
            }
        }
        Ok(out)
    }

    pub(crate) fn list(&self) -> CacheResult<Vec<AssetEntry>> {
        let mut v: Vec<AssetEntry> = self
            .scan()?
            .into_iter()
            .map(|(id, s)| AssetEntry {
                id,
                label: s.index.as_ref().map(|i| i.label().to_owned()),
                size_on_disk: s.size,
                total_len: s.index.as_ref().and_then(AssetIndex::total_len),
                present_bytes: s.index.as_ref().map_or(0, |i| i.present().covered()),
                complete: s.index.as_ref().is_some_and(AssetIndex::is_complete),
                last_access: s.index.as_ref().map_or(UNIX_EPOCH, AssetIndex::last_access),
            })
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.last_access));
        Ok(v)
    }

    pub(crate) fn gc(&self, max_size: u64) -> CacheResult<GcReport> {
        let scanned = self.scan()?;
        let mut total: u64 = scanned.values().map(|s| s.size).sum();
        let mut order: Vec<(AssetId, Scanned)> = scanned.into_iter().collect();
        // Damaged first, then least recently used.
        order.sort_by_key(|(_, s)| s.index.as_ref().map(AssetIndex::last_access));
        let mut report = GcReport::default();
        for (id, s) in order {
            if total <= max_size {
                break;
            }
            let seen = s.index.as_ref().map(AssetIndex::last_access);
            if self.remove_if_unused(id, &s, seen)? {
                total = total.saturating_sub(s.size);
                report.removed += 1;
                report.freed_bytes += s.size;
            } else {
                report.skipped_in_use += 1;
            }
        }
        report.remaining_bytes = total;
        Ok(report)
    }

    /// Deletes the files of `id` unless it is in use or was used since the
    /// scan; `Ok(true)` if deleted.
    fn remove_if_unused(
        &self,
        id: AssetId,
        s: &Scanned,
        seen: Option<SystemTime>,
    ) -> CacheResult<bool> {
        let paths = self.layout.paths(&id);
        let dir = DirLock::acquire(&self.layout.lock())?;
        if self.is_pinned(&id) {
            return Ok(false);
        }
        let lock = match File::open(&paths.lock) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("open", &paths.lock)(e)),
        };
        if let Some(f) = &lock {
            if let Locked::Contended = fsutil::try_lock(f, true, &paths.lock)? {
                return Ok(false);
            }
        }
        let now = read_index(&paths.index, id).map(|i| i.last_access());
        if now != seen {
            return Ok(false);
        }
        // Index first: from here on the asset counts as absent.
        fsutil::remove_if_exists(&paths.index)?;
        for f in s
            .files
            .iter()
            .filter(|f| **f != paths.index && **f != paths.lock)
        {
            fsutil::remove_if_exists(f)?;
        }
        // Close before unlinking (Windows cannot delete an open file); the
        // directory lock keeps anyone from opening it in between.
        drop(lock);
        fsutil::remove_if_exists(&paths.lock)?;
        drop(dir);
        // Durability of the unlinks is not needed for safety: an index
        // that survives a crash without its data is refused on open.
        fsutil::sync_parent(&paths.data)?;
        Ok(true)
    }
}

/// Reads and decodes an index file; `None` if missing or damaged.
fn read_index(path: &std::path::Path, id: AssetId) -> Option<AssetIndex> {
    let bytes = fsutil::read_small(path, 1 << 26).ok()??;
    let index = AssetIndex::decode(&bytes, Some(id));
    if index.is_none() {
        tracing::warn!(path = %path.display(), "cache index is damaged; the asset counts as absent");
    }
    index
}
