//! The HLS stream: [`Hls`](crate::Hls) opens it, [`HlsPeer`] fetches, [`HlsSource`] reads.
//!
//! The `planner` decides what is fetched and in which order pieces are placed (a plain state
//! machine: no locks, closures, I/O or clock); the `layout` owns what the reader sees (pieces,
//! boundaries, the end, the failure); the peer is the adapter between the planner and the
//! downloader, and the source reads the layout.

mod abr_control;
mod command;
mod config;
mod encrypted;
mod events;
mod fetch;
mod layout;
mod marks;
mod open;
mod peer;
mod pieces;
mod planner;
mod playlist_cache;
mod segment_cache;
mod shared;
mod source;
mod timed;
mod variants;

pub use config::HlsConfig;
pub use events::HlsEvent;
pub use peer::HlsPeer;
pub use source::HlsSource;

/// One variant of an HLS stream, as its master playlist describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VariantSummary {
    /// Index in the ladder (the `AbrMode::Fixed` index).
    pub index: usize,
    /// `BANDWIDTH` (or `AVERAGE-BANDWIDTH`) in bits per second; 0 for a lone media playlist.
    pub bandwidth: u64,
    /// `CODECS` as written.
    pub codecs: Option<String>,
    /// The format facts the playlist gives.
    pub media_info: kithara_stream::MediaInfo,
}
