#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod control;
mod convert;
mod decode;
mod error;
mod event;
mod msg;
mod open;
mod output;
mod player;
mod queue;
mod resample;
mod ring;
mod shared;
pub mod sink;
mod source;
mod track;
mod tracks;

pub use config::{AudioChoice, CacheChoice, LoadControl, PlayerConfig};
pub use error::{Error, Result};
pub use event::{Event, PlayerState, Repeat};
pub use output::Output;
pub use player::{Events, Player, PlayerHandle};
pub use resample::Resampler;
#[cfg(feature = "cpal")]
pub use sink::CpalSink;
#[cfg(feature = "rodio")]
pub use sink::{rodio_source, RodioSink, RodioSource};
pub use sink::{AudioSink, NullSink, RunningSink, SinkFormat, WavSink};
pub use track::{Track, TrackId};
