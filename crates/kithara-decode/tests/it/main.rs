//! Integration tests of `Decoder` over `Stream<File>` served by the loopback server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub,
    missing_docs
)]

mod classes;
mod codecs;
mod common;
mod errors;
mod exact;
mod gapless;
mod he_signal;
mod hls;
mod hls_meta;
mod hostile;
mod marked;
mod mp3_seek;
mod nowplaying;
mod probing;
mod radio;
mod radio_layout;
mod reference;
mod tags;
mod tail_tags;
mod ts;
mod vbr_seek;
