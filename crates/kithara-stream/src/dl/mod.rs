//! The pull-driven download layer: one shared [`Downloader`] runs the [`FetchCmd`]s that every
//! registered [`Peer`] yields.
//!
//! ```text
//! Peer ──poll_next()──▶ FetchCmd ──▶ Downloader ──writer(offset, chunk)──▶ storage
//!                                         └──────on_complete(outcome)──▶ peer state
//! ```
//!
//! Cancellation is a tree: the downloader's root token → each peer's token → each command's token.

mod attempt;
mod body;
mod classify;
mod config;
mod counts;
mod downloader;
mod fetch;
mod peer;
mod promote;
mod request;
mod response;
mod slots;
mod validate;

/// Internal parsers exposed to the fuzz targets (built with `--cfg fuzzing` by cargo-fuzz only).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz_api {
    /// `Content-Range` parsing: `bytes a-b/total` into (a, b exclusive, total).
    pub fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
        super::response::parse_content_range(v)
    }
}

pub use config::{DownloaderConfig, RetryPolicy};
pub use counts::DownloaderStats;
pub use downloader::Downloader;
pub use fetch::{
    ByteRange, FetchCmd, FetchMethod, FetchOutcome, Priority, ResourceEnd, ResponseInfo,
};
#[cfg(feature = "mock")]
pub use peer::PeerMock;
pub use peer::{FetchPurpose, Peer, PeerHandle, ThroughputSample};
pub use promote::PriorityHandle;
