//! Integration tests of `Stream<File>` against the loopback test server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod cache;
mod common;
mod events;
mod faults;
mod hardening;
mod matrix;
mod pool;
mod radio;
mod read;
mod seek;
mod wire;
