//! The HLS stream: [`Hls`](crate::Hls) opens it, [`HlsPeer`] fetches, [`HlsSource`] reads.

mod abandon;
mod abr_control;
mod config;
mod encrypted;
mod events;
mod fetch;
mod layout;
mod open;
mod peer;
mod pieces;
mod shared;
mod source;
mod variants;

pub use config::HlsConfig;
pub use events::HlsEvent;
pub use peer::HlsPeer;
pub use source::HlsSource;
