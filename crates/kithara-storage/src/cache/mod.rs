//! The persistent asset cache: [`AssetStore`] keeps whole files and HLS
//! segments in a bounded, crash-safe directory shared by processes; see the
//! crate README ("Persistent cache") for the design.

mod asset;
mod asset_meta;
mod codec;
mod config;
mod default;
mod error;
mod evict;
mod fsutil;
mod held;
mod index;
/// Internal decoders exposed to the fuzz targets (built with `--cfg fuzzing` by cargo-fuzz only).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz_api {
    /// Decodes a cache index file; `true` when it is accepted.
    pub fn decode_index(bytes: &[u8]) -> bool {
        super::index::AssetIndex::decode(bytes, None).is_some()
    }

    /// Decodes `body` sealed as an index file (magic and checksum right), so that the fuzzer
    /// reaches the record parser behind the checksum; `true` when it is accepted.
    pub fn decode_index_body(body: &[u8]) -> bool {
        super::index::AssetIndex::decode(&super::index::seal_for_fuzzing(body), None).is_some()
    }
}
mod inventory;
mod key;
mod keyfile;
mod layout;
mod store;

#[cfg(test)]
mod tests;

pub use asset::Asset;
pub use config::{AssetStoreConfig, DEFAULT_MAX_SIZE, DEFAULT_RECORD_BATCH};
pub use error::{CacheError, CacheResult};
pub use index::{AssetIndex, Validators};
pub use inventory::{AssetEntry, GcReport};
pub use key::{AssetId, AssetKey};
pub use store::{AssetStore, PinGuard};
