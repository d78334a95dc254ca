#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod abr;
pub mod crypto;
mod error;
pub mod keys;
pub mod playlist;
mod stream;

pub use error::{Error, Result};
pub use stream::{HlsConfig, HlsEvent, HlsPeer, HlsSource, VariantSummary};

/// The HLS protocol: `Stream::<Hls>::new(HlsConfig::builder().url(url).downloader(dl).build()).await?`.
#[derive(Debug)]
pub struct Hls;
