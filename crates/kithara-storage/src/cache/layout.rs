//! Where an asset's files live inside the cache directory.
//!
//! ```text
//! <dir>/CACHEDIR.TAG            marks the directory as a cache for backup tools
//! <dir>/lock                    directory lock (see `fsutil::DirLock`)
//! <dir>/assets/<h0h1>/<hex>.data   sparse data file, written in place
//! <dir>/assets/<h0h1>/<hex>.idx    index (`AssetIndex`), replaced atomically
//! <dir>/assets/<h0h1>/<hex>.key    optional AES key blob (0600)
//! <dir>/assets/<h0h1>/<hex>.lock   empty; its file lock says the asset is open
//! ```
//!
//! The lock lives in its own file rather than on the data file because
//! Windows locks are mandatory: a locked data file could not be read or
//! written through another handle.
//!
//! `<hex>` is the 64-digit [`AssetId`]; `<h0h1>` its first two digits,
//! which keeps directories small when HLS stores thousands of segments.

use std::path::{Path, PathBuf};

use super::key::AssetId;

/// Contents of `CACHEDIR.TAG` (<https://bford.info/cachedir/>).
pub(crate) const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by kithara.\n";

/// Extension of data files.
pub(crate) const DATA_EXT: &str = "data";
/// Extension of index files.
pub(crate) const INDEX_EXT: &str = "idx";
/// Extension of key files.
pub(crate) const KEY_EXT: &str = "key";
/// Extension of per-asset lock files.
pub(crate) const LOCK_EXT: &str = "lock";

/// Paths of the cache directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

/// The files of one asset.
#[derive(Debug, Clone)]
pub(crate) struct AssetPaths {
    pub(crate) shard: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) index: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) lock: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
    pub(crate) fn assets(&self) -> PathBuf {
        self.root.join("assets")
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
    pub(crate) fn tag(&self) -> PathBuf {
        self.root.join("CACHEDIR.TAG")
    }
    pub(crate) fn paths(&self, id: &AssetId) -> AssetPaths {
        let hex = id.to_hex();
        let shard = self.assets().join(&hex[..2]);
        AssetPaths {
            data: shard.join(format!("{hex}.{DATA_EXT}")),
            index: shard.join(format!("{hex}.{INDEX_EXT}")),
            key: shard.join(format!("{hex}.{KEY_EXT}")),
            lock: shard.join(format!("{hex}.{LOCK_EXT}")),
            shard,
        }
    }
}

/// The asset a file in a shard belongs to: its name starts with the 64 hex
/// digits of an [`AssetId`] followed by a dot.
pub(crate) fn owner_of(file_name: &str) -> Option<AssetId> {
    let stem = file_name.get(..64)?;
    if file_name.as_bytes().get(64) != Some(&b'.') {
        return None;
    }
    AssetId::from_hex(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_in_the_shard() {
        let l = Layout::new(PathBuf::from("/c"));
        let id = AssetId::from_bytes([0xab; 32]);
        let p = l.paths(&id);
        assert_eq!(p.shard, PathBuf::from("/c/assets/ab"));
        for f in [&p.data, &p.index, &p.key, &p.lock] {
            assert_eq!(f.parent(), Some(p.shard.as_path()));
            let name = f.file_name().unwrap().to_str().unwrap();
            assert_eq!(owner_of(name), Some(id));
        }
        assert_eq!(owner_of("lock"), None);
        assert_eq!(owner_of(&format!("{}x", id.to_hex())), None);
    }
}
