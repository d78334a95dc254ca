#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod config;
mod endless;
mod error;
mod events;
mod icy;
mod open;
mod open_radio;
mod peer;
mod radio;
mod shared;
mod source;

pub use config::{FileConfig, FileSrc, SrcError};
pub use error::Error;
pub use events::FileEvent;
#[cfg(fuzzing)]
#[doc(hidden)]
pub use icy::fuzz_api;
pub use kithara_storage::{AssetKey, AssetStore, AssetStoreConfig, StorageKind};
pub use peer::FilePeer;
pub use radio::{Endless, RadioConfig, RingSize, MIN_KEEP_BEHIND};
pub use source::FileSource;

/// The progressive-file protocol: `Stream::<File>::new(FileConfig::remote(url, dl).build())`.
#[derive(Debug)]
pub struct File;
