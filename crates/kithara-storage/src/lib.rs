#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod file;
mod mem;
mod ranges;
mod resource;
mod wait;

pub use error::{Error, Result};
pub use ranges::RangeSet;
pub use resource::{BackendKind, StorageResource};
pub use wait::{SharedError, WaitOutcome};
