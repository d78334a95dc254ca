//! AES key blobs stored beside an asset when key caching is on
//! ([`AssetStoreConfig::cache_keys`](super::AssetStoreConfig::cache_keys)).
//!
//! The file is owner-only and sealed like the index (magic, asset id,
//! SHA-256), so a damaged or misplaced key is ignored rather than used.

use super::asset::Asset;
use super::codec;
use super::error::{CacheError, CacheResult};
use super::fsutil;

/// Magic of a key file.
const KEY_MAGIC: &[u8] = b"KITHKEY\x01";
/// Largest key blob stored.
const MAX_KEY_BYTES: usize = 1 << 16;

impl Asset {
    /// Stores an AES key blob with the asset (owner-only file) when key
    /// caching is on; `Ok(false)` without writing when it is off.
    pub fn put_key(&self, key: &[u8]) -> CacheResult<bool> {
        if !self.shared.config.cache_keys {
            tracing::debug!(asset = %self.id, "key caching is off; key kept in memory only");
            return Ok(false);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(CacheError::InvalidRange {
                id: self.id,
                range: 0..key.len() as u64,
                total: Some(MAX_KEY_BYTES as u64),
            });
        }
        let mut body = self.id.as_bytes().to_vec();
        body.extend_from_slice(key);
        fsutil::write_atomic(&self.paths.key, &codec::seal(KEY_MAGIC, &body))?;
        Ok(true)
    }

    /// The stored key blob, if key caching is on and one was stored. A
    /// damaged key file counts as absent (with a warning).
    pub fn key(&self) -> CacheResult<Option<Vec<u8>>> {
        if !self.shared.config.cache_keys {
            return Ok(None);
        }
        let Some(bytes) = fsutil::read_small(&self.paths.key, MAX_KEY_BYTES as u64 + 128)? else {
            return Ok(None);
        };
        let blob = codec::open(KEY_MAGIC, &bytes)
            .and_then(|b| b.strip_prefix(self.id.as_bytes().as_slice()));
        if blob.is_none() {
            tracing::warn!(asset = %self.id, "cached key file is damaged; ignoring it");
        }
        Ok(blob.map(<[u8]>::to_vec))
    }
}
