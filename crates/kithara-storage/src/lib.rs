#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
#[cfg(fuzzing)]
#[doc(hidden)]
pub use cache::fuzz_api;
mod cached;
mod error;
mod export;
mod file;
mod kind;
mod mem;
mod ranges;
mod resource;
mod validator;
mod wait;

pub use cache::{
    Asset, AssetEntry, AssetId, AssetIndex, AssetKey, AssetStore, AssetStoreConfig, CacheError,
    CacheResult, GcReport, PinGuard, Validators, DEFAULT_MAX_SIZE, DEFAULT_RECORD_BATCH,
};
pub use error::{Error, Result};
pub use kind::StorageKind;
pub use ranges::RangeSet;
pub use resource::{BackendKind, StorageResource};
pub use validator::Validator;
pub use wait::{SharedError, WaitOutcome};
