//! The shared downloader over the loopback server, driven by a minimal peer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;
mod failures;
mod fetches;
mod scheduling;
