//! Integration tests of the player over the loopback server, through the public API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub,
    missing_docs
)]

mod common;
mod control;
mod gapless;
mod load;
mod nowplaying;
mod priority;
mod queue;
mod rendition;
#[cfg(feature = "rodio")]
mod rodio;
