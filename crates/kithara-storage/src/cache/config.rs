//! [`AssetStoreConfig`]: where the cache lives and how it behaves.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{CacheError, CacheResult};

/// Default size limit: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Default batch of bytes between two index writes: 4 MiB.
pub const DEFAULT_RECORD_BATCH: u64 = 4 << 20;

/// Configuration of an [`AssetStore`](super::AssetStore).
///
/// ```
/// use kithara_storage::AssetStoreConfig;
/// let config = AssetStoreConfig::builder()
///     .dir("/tmp/kithara-cache-doc")
///     .max_size(512 << 20)
///     .build();
/// assert_eq!(config.max_size, 512 << 20);
/// assert!(!config.cache_keys);
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct AssetStoreConfig {
    /// Cache directory. Default: the platform cache directory of kithara
    /// (see [`AssetStoreConfig::default_dir`]).
    #[builder(into)]
    pub dir: Option<PathBuf>,
    /// Size limit of the cache in bytes (space allocated on disk). Whole
    /// assets are evicted, least recently used first, until the cache fits;
    /// assets in use are never evicted, so the cache can stay above the
    /// limit while they are open. Default: 1 GiB.
    #[builder(default = DEFAULT_MAX_SIZE)]
    pub max_size: u64,
    /// Serve complete assets without asking the server at all. Default: off.
    #[builder(default)]
    pub offline_first: bool,
    /// How long after a successful validation a complete asset is served
    /// without revalidation. Default: zero (always revalidate when online).
    #[builder(default = Duration::ZERO)]
    pub metadata_freshness: Duration,
    /// Store HLS AES keys beside their asset (owner-only file) so encrypted
    /// media replays offline. Default: off (keys stay in memory only).
    #[builder(default)]
    pub cache_keys: bool,
    /// Bytes recorded between two index writes (each write syncs the data
    /// file first). Completion and close always write. Default: 4 MiB.
    #[builder(default = DEFAULT_RECORD_BATCH)]
    pub record_batch: u64,
    /// Run eviction on a background thread when recorded bytes push the
    /// cache over `max_size`. Default: on.
    #[builder(default = true)]
    pub background_eviction: bool,
}

impl Default for AssetStoreConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl AssetStoreConfig {
    /// The platform cache directory of kithara (`$XDG_CACHE_HOME/kithara`,
    /// `~/Library/Caches/kithara`, `%LOCALAPPDATA%\kithara\cache`), or
    /// `None` if the platform has no home directory.
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "kithara").map(|d| d.cache_dir().to_path_buf())
    }

    /// The configured directory, else the platform default.
    pub fn resolved_dir(&self) -> CacheResult<PathBuf> {
        self.dir
            .clone()
            .or_else(Self::default_dir)
            .ok_or(CacheError::NoCacheDir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_resolution() {
        let c = AssetStoreConfig::default();
        assert_eq!(c.max_size, DEFAULT_MAX_SIZE);
        assert_eq!(c.record_batch, DEFAULT_RECORD_BATCH);
        assert!(!c.offline_first && !c.cache_keys && c.background_eviction);
        assert_eq!(c.metadata_freshness, Duration::ZERO);
        let c = AssetStoreConfig::builder().dir("/x/y").build();
        assert_eq!(c.resolved_dir().ok(), Some(PathBuf::from("/x/y")));
    }

    #[test]
    fn platform_default_names_kithara() {
        if let Some(dir) = AssetStoreConfig::default_dir() {
            assert!(dir.to_string_lossy().to_lowercase().contains("kithara"));
        }
    }
}
