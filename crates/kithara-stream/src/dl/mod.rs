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
mod config;
mod downloader;
mod fetch;
mod peer;
mod response;

pub use config::{DownloaderConfig, RetryPolicy};
pub use downloader::Downloader;
pub use fetch::{ByteRange, FetchCmd, FetchMethod, FetchOutcome, ResponseInfo, WriteError};
#[cfg(feature = "mock")]
pub use peer::PeerMock;
pub use peer::{Peer, PeerHandle, ThroughputSample};
