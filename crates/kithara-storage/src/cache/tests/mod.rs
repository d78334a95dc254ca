//! Store-level tests of the asset cache on temporary directories.

mod asset;
mod eviction;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use url::Url;

use super::*;

pub(super) fn config(dir: &Path) -> AssetStoreConfig {
    AssetStoreConfig::builder()
        .dir(dir)
        .background_eviction(false)
        .record_batch(64 << 10)
        .build()
}

pub(super) fn store(dir: &Path) -> AssetStore {
    AssetStore::new(config(dir)).unwrap()
}

pub(super) fn key(s: &str) -> AssetKey {
    AssetKey::new(&Url::parse(s).unwrap())
}

/// Deterministic non-zero content: byte `i` of an asset.
pub(super) fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 7) as u8 | 1
}

pub(super) fn write(asset: &Asset, range: std::ops::Range<u64>) {
    let bytes: Vec<u8> = range.clone().map(pattern).collect();
    let mut f = asset.data_file();
    f.seek(SeekFrom::Start(range.start)).unwrap();
    f.write_all(&bytes).unwrap();
}

pub(super) fn fill(asset: &Asset, range: std::ops::Range<u64>) {
    write(asset, range.clone());
    asset.record(range).unwrap();
}

pub(super) fn ranges(a: &Asset) -> Vec<std::ops::Range<u64>> {
    a.index().present().iter().collect()
}
