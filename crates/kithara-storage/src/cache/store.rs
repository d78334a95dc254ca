//! [`AssetStore`]: the cache directory, opening assets, pins, and the
//! maintenance entry points (listing, `gc`, `clear`).

use std::collections::HashMap;
use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::asset::{self, Asset};
use super::config::AssetStoreConfig;
use super::error::{io_err, CacheError, CacheResult};
use super::evict::{self, EvictSignal};
use super::fsutil::{self, DirLock, Locked};
use super::held;
use super::inventory::{AssetEntry, GcReport};
use super::key::{AssetId, AssetKey};
use super::layout::{self, Layout};

/// State shared by a store, its open assets and its eviction thread.
#[derive(Debug)]
pub(crate) struct StoreShared {
    pub(crate) layout: Layout,
    pub(crate) config: AssetStoreConfig,
    /// In-process pins: asset → number of live [`PinGuard`]s.
    pins: Mutex<HashMap<AssetId, usize>>,
    /// Estimated bytes on disk, refreshed by every eviction pass.
    usage: AtomicU64,
    pub(crate) evict: EvictSignal,
}

impl StoreShared {
    pub(crate) fn is_pinned(&self, id: &AssetId) -> bool {
        self.pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id)
    }

    pub(crate) fn set_usage(&self, bytes: u64) {
        self.usage.store(bytes, Ordering::Relaxed);
    }

    /// Accounts newly recorded bytes; wakes the evictor past the limit.
    pub(crate) fn note_growth(&self, bytes: u64) {
        let now = self.usage.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if self.config.background_eviction && now > self.config.max_size {
            self.evict.request();
        }
    }

    /// Registers a pin; the caller holds the directory lock so that no
    /// eviction decision for `id` is in progress.
    fn pin(self: &Arc<Self>, id: AssetId, _dir: &DirLock) -> PinGuard {
        self.pin_unlocked(id)
    }

    /// Registers a pin where no evictor can run (a standalone asset).
    fn pin_unlocked(self: &Arc<Self>, id: AssetId) -> PinGuard {
        *self
            .pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_insert(0) += 1;
        PinGuard {
            shared: Arc::clone(self),
            id,
        }
    }
}

/// Keeps one asset from being evicted by this process while it lives.
///
/// Every open [`Asset`] holds one; [`AssetStore::pin`] makes one without
/// opening (for example for all segments of an HLS stream that is playing).
/// Other processes see only open assets as in use (through their file
/// lock), not bare pins.
#[derive(Debug)]
pub struct PinGuard {
    shared: Arc<StoreShared>,
    id: AssetId,
}

impl PinGuard {
    /// The pinned asset.
    pub fn id(&self) -> AssetId {
        self.id
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut pins = self
            .shared
            .pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = pins.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                pins.remove(&self.id);
            }
        }
    }
}

/// A persistent cache of assets (whole files or HLS segments) in one
/// directory, bounded in size, shared safely by several processes.
///
/// Cloning is cheap; clones share the eviction thread, which stops when
/// the last clone is dropped.
#[derive(Debug, Clone)]
pub struct AssetStore {
    handle: Arc<StoreHandle>,
}

#[derive(Debug)]
struct StoreHandle {
    shared: Arc<StoreShared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StoreHandle {
    fn drop(&mut self) {
        self.shared.evict.shutdown();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::warn!("cache eviction thread panicked");
            }
        }
    }
}

impl AssetStore {
    /// Opens (creating if needed, owner-only) the cache directory of
    /// `config` and starts the eviction thread, whose first pass trims a
    /// directory left over the limit.
    pub fn new(config: AssetStoreConfig) -> CacheResult<Self> {
        let layout = Layout::new(config.resolved_dir()?);
        fsutil::create_private_dir(&layout.assets())?;
        if !layout.tag().exists() {
            fsutil::write_atomic(&layout.tag(), layout::CACHEDIR_TAG.as_bytes())?;
        }
        let background = config.background_eviction;
        let shared = Arc::new(StoreShared {
            layout,
            config,
            pins: Mutex::new(HashMap::new()),
            usage: AtomicU64::new(0),
            evict: EvictSignal::default(),
        });
        let thread = if background {
            let t = evict::spawn(Arc::clone(&shared))
                .map_err(io_err("spawn eviction thread", shared.layout.root()))?;
            shared.evict.request();
            Some(t)
        } else {
            None
        };
        Ok(Self {
            handle: Arc::new(StoreHandle { shared, thread }),
        })
    }

    fn shared(&self) -> &Arc<StoreShared> {
        &self.handle.shared
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        self.shared().layout.root()
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &AssetStoreConfig {
        &self.shared().config
    }

    /// Opens `key` for writing, creating it if absent. The handle holds an
    /// exclusive lock on the asset: a second writer, in this process or
    /// another, gets [`CacheError::Busy`] at once (it never waits) and should
    /// stream without the cache. A damaged index makes the asset start
    /// empty (with a warning). Opening updates the last-access time.
    pub fn open(&self, key: &AssetKey) -> CacheResult<Asset> {
        match self.open_with(key, true)? {
            Some(a) => Ok(a),
            None => Err(CacheError::Io {
                op: "open",
                path: self.shared().layout.paths(&key.id()).data,
                source: ErrorKind::NotFound.into(),
            }),
        }
    }

    /// Opens `key` for writing as [`open`](Self::open) does, but waits up to `timeout` while
    /// another handle holds it: a handle of this process (a stream of the same asset that was
    /// just dropped, finishing its last flush) is waited for until it is released, with no
    /// polling; a handle of another process is retried every few milliseconds (file locks
    /// cannot be waited on with a deadline). [`CacheError::Busy`] once `timeout` has passed.
    pub fn open_waiting(&self, key: &AssetKey, timeout: Duration) -> CacheResult<Asset> {
        let lock = self.shared().layout.paths(&key.id()).lock;
        held::retry_busy(&lock, timeout, || self.open(key))
    }

    /// Opens `key` for reading only, with a shared lock: any number of
    /// readers may share an asset, but not with a writer
    /// ([`CacheError::Busy`]). `Ok(None)` if the asset is absent or its
    /// index is damaged. Meant for complete assets; record and discard
    /// need [`AssetStore::open`].
    pub fn open_read_only(&self, key: &AssetKey) -> CacheResult<Option<Asset>> {
        self.open_with(key, false)
    }

    fn open_with(&self, key: &AssetKey, writable: bool) -> CacheResult<Option<Asset>> {
        let shared = self.shared();
        let id = key.id();
        let paths = shared.layout.paths(&id);
        if writable {
            fsutil::create_private_dir(&paths.shard)?;
        }
        let dir = DirLock::acquire(&shared.layout.lock())?;
        // The per-asset lock first: it, not the data file, is what
        // `gc` checks, so nothing is evicted once we hold it.
        let mut lock_opts = fsutil::private_options();
        lock_opts.read(true);
        if writable {
            lock_opts.write(true).create(true).truncate(false);
        }
        let lock = match lock_opts.open(&paths.lock) {
            Ok(f) => f,
            Err(e) if !writable && e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &paths.lock)(e)),
        };
        if let Locked::Contended = fsutil::try_lock(&lock, writable, &paths.lock)? {
            return Err(CacheError::Busy {
                id,
                label: key.label(),
            });
        }
        let opened = if writable {
            fsutil::private_options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&paths.data)
        } else {
            File::open(&paths.data)
        };
        let data = match opened {
            Ok(f) => f,
            Err(e) if !writable && e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &paths.data)(e)),
        };
        let pin = shared.pin(id, &dir);
        drop(dir);
        asset::open_locked(
            Arc::clone(shared),
            key,
            paths,
            asset::Handles { data, lock },
            writable,
            pin,
        )
    }

    /// Opens one asset outside any cache directory, for writing: its data
    /// file is `data_path` (created if absent, never truncated while its
    /// index is valid) and its index lies beside it, at `data_path` with
    /// `.idx` appended. The data file itself is locked exclusively, so a
    /// second writer gets [`CacheError::Busy`]. No size limit applies.
    /// This is how `kithara fetch` keeps `FILE.part` resumable.
    ///
    /// An index written for another key (another URL) counts as absent, so
    /// the data file is started again.
    pub fn open_standalone(key: &AssetKey, data_path: &Path) -> CacheResult<Asset> {
        let parent = match data_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let beside = |ext: &str| {
            let mut name = data_path.as_os_str().to_os_string();
            name.push(ext);
            std::path::PathBuf::from(name)
        };
        let paths = layout::AssetPaths {
            shard: parent.clone(),
            data: data_path.to_path_buf(),
            index: beside(".idx"),
            key: beside(".key"),
            lock: data_path.to_path_buf(),
        };
        let config = AssetStoreConfig::builder()
            .dir(parent.clone())
            .background_eviction(false)
            .max_size(u64::MAX)
            .build();
        let shared = Arc::new(StoreShared {
            layout: Layout::new(parent),
            config,
            pins: Mutex::new(HashMap::new()),
            usage: AtomicU64::new(0),
            evict: EvictSignal::default(),
        });
        let data = fsutil::private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(data_path)
            .map_err(io_err("open", data_path))?;
        let lock = data.try_clone().map_err(io_err("open", data_path))?;
        if let Locked::Contended = fsutil::try_lock(&lock, true, data_path)? {
            return Err(CacheError::Busy {
                id: key.id(),
                label: key.label(),
            });
        }
        let pin = shared.pin_unlocked(key.id());
        match asset::open_locked(shared, key, paths, asset::Handles { data, lock }, true, pin)? {
            Some(a) => Ok(a),
            None => Err(CacheError::Io {
                op: "open",
                path: data_path.to_path_buf(),
                source: ErrorKind::NotFound.into(),
            }),
        }
    }

    /// [`open_standalone`](Self::open_standalone), waiting up to `timeout` for another writer
    /// of `data_path` to release it, as [`open_waiting`](Self::open_waiting) does.
    pub fn open_standalone_waiting(
        key: &AssetKey,
        data_path: &Path,
        timeout: Duration,
    ) -> CacheResult<Asset> {
        held::retry_busy(data_path, timeout, || Self::open_standalone(key, data_path))
    }

    /// Pins `key` against eviction by this process until the guard drops,
    /// without opening it.
    pub fn pin(&self, key: &AssetKey) -> CacheResult<PinGuard> {
        let dir = DirLock::acquire(&self.shared().layout.lock())?;
        Ok(self.shared().pin(key.id(), &dir))
    }

    /// Every asset in the directory (including those of other processes),
    /// with size on disk, completeness and last use, most recently used
    /// first; for `kithara cache ls`.
    pub fn list(&self) -> CacheResult<Vec<AssetEntry>> {
        self.shared().list()
    }

    /// Bytes the cache occupies on disk.
    pub fn total_size(&self) -> CacheResult<u64> {
        Ok(self.list()?.iter().map(|e| e.size_on_disk).sum())
    }

    /// Evicts whole assets, least recently used first (damaged ones first
    /// of all), until the cache occupies at most `max_size` bytes. Assets
    /// open or pinned anywhere are skipped. Runs on the calling thread.
    pub fn gc(&self, max_size: u64) -> CacheResult<GcReport> {
        let report = self.shared().gc(max_size)?;
        self.shared().set_usage(report.remaining_bytes);
        Ok(report)
    }

    /// Removes every asset not in use.
    pub fn clear(&self) -> CacheResult<GcReport> {
        self.gc(0)
    }

    /// Waits until the background eviction has served every request made
    /// so far; `false` if `timeout` passed first. Returns at once when
    /// background eviction is off.
    pub fn wait_for_eviction(&self, timeout: Duration) -> bool {
        self.shared().evict.wait_idle(timeout)
    }

    /// Waits until this process has closed every asset it opened (of any store): a dropped
    /// stream hands its last flush to a flusher thread, so a program about to exit calls this
    /// for what it cached to be recorded. `false` if `timeout` passed first.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        super::held::wait_all_released(std::time::Instant::now() + timeout)
    }
}

/// Two handles are equal when they are clones of one store.
impl PartialEq for AssetStore {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.handle, &other.handle)
    }
}

impl Eq for AssetStore {}
