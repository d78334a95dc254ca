#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod boundary;
mod change;
mod chunk;
mod codecs;
mod config;
mod decoder;
mod engine;
mod error;
mod info;
mod joins;
mod marks;
mod media_source;
mod mp3_frame;
mod mp3_seek;
mod mp3_toc;
mod mp4_trim;
mod probe;
mod progress;
mod tags;
mod tail_tags;
mod time_seek;
pub mod ts;

pub use change::StreamChange;
pub use chunk::PcmChunk;
pub use config::{DecoderConfig, SeekMode, TimeAccuracy};
pub use decoder::Decoder;
pub use error::{Error, Origin, Result};
pub use info::TrackInfo;
pub use marks::NowPlayingChange;
pub use media_source::{LayoutGate, StreamMediaSource};
pub use tags::Tags;
