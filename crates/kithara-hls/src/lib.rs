#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod abr;
pub mod crypto;
mod error;
pub mod keys;
pub mod playlist;

pub use error::{Error, Result};
