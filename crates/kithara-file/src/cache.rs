//! Opening a file's storage in the persistent cache, and dropping a changed version.
//!
//! Both do blocking file I/O (locks, index reads and writes), so they run on tokio's blocking
//! pool. A cache that cannot be used (another process writes the asset, the directory is
//! broken) never stops playback: the stream runs uncached, with a warning.

use std::time::{Duration, Instant};

use kithara_storage::{AssetKey, CacheError, StorageKind, StorageResource};
use kithara_stream::{Error, Result};
use url::Url;

/// How long opening waits for another handle of this process or another to release the asset
/// (a stream of the same file that was just dropped) before streaming uncached.
const BUSY_WAIT: Duration = Duration::from_millis(500);
/// Pause between two attempts to take a busy asset.
const BUSY_POLL: Duration = Duration::from_millis(10);

/// The storage of `url`: the cached asset for [`StorageKind::Cache`], else a new resource.
pub(crate) async fn create_storage(kind: &StorageKind, url: &Url) -> Result<StorageResource> {
    let key = AssetKey::new(url);
    let Some(store) = kind.store().cloned() else {
        if let StorageKind::Resumable(_) = kind {
            let kind = kind.clone();
            return match tokio::task::spawn_blocking(move || kind.create_for(&key)).await {
                Ok(r) => Ok(r?),
                Err(_) => Err(Error::Cancelled),
            };
        }
        return Ok(kind.create()?);
    };
    let opened = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            match store.open(&key) {
                Ok(asset) => return StorageResource::cached(asset),
                // No file-lock wait has a deadline, so a short poll it is.
                Err(CacheError::Busy { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(BUSY_POLL);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot use the cache for this stream; streaming uncached");
                    return StorageResource::temp_file();
                }
            }
        }
    })
    .await;
    match opened {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Cancelled),
    }
}

/// Drops the cached bytes of `resource` (the server's version changed) and returns the fresh,
/// empty resource that replaces it.
pub(crate) async fn discard(resource: StorageResource) -> Result<StorageResource> {
    match tokio::task::spawn_blocking(move || resource.discard_cached()).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Cancelled),
    }
}
