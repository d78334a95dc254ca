//! `Stream<Hls>` over the loopback server and the bundled HLS ladder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod abr;
mod behaviour;
mod cache;
mod cache_resume;
mod common;
mod events;
mod priority;
mod switch;
mod vod;
mod wire;
