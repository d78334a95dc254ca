//! Opening a file's storage in the persistent cache, and dropping a changed version.
//!
//! Both do blocking file I/O (locks, index reads and writes), so they run on tokio's blocking
//! pool. A cache that cannot be used (another process writes the asset past a short wait, the
//! directory is broken) never stops playback: the stream runs uncached, with a warning (see
//! `StorageKind::create_for`).

use kithara_storage::{AssetKey, StorageKind, StorageResource};
use kithara_stream::{Error, Result};
use url::Url;

/// The storage of `url`: the cached asset for [`StorageKind::Cache`], the resumable file for
/// [`StorageKind::Resumable`], else a new resource.
pub(crate) async fn create_storage(kind: &StorageKind, url: &Url) -> Result<StorageResource> {
    if !matches!(kind, StorageKind::Cache(_) | StorageKind::Resumable(_)) {
        return Ok(kind.create()?);
    }
    let (kind, key) = (kind.clone(), AssetKey::new(url));
    match tokio::task::spawn_blocking(move || kind.create_for(&key)).await {
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
