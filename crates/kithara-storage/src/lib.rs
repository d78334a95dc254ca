#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod file;
mod kind;
mod mem;
mod ranges;
mod resource;
mod validator;
mod wait;

pub use error::{Error, Result};
pub use kind::StorageKind;
pub use ranges::RangeSet;
pub use resource::{BackendKind, StorageResource};
pub use validator::Validator;
pub use wait::{SharedError, WaitOutcome};
