#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "probe"), forbid(unsafe_code))]
#![cfg_attr(feature = "probe", deny(unsafe_code))]
#![deny(missing_docs)]

mod boundary;
pub mod dl;
mod error;
mod hooks;
mod media;
mod perf;
mod probe;
mod source;
mod stream;
mod timeline;

pub use boundary::{Boundary, BoundaryKind, TimeAnchor, TimeMap};
pub use error::{redact_url, Error, RedactedUrl, Result, SharedError, TransportKind};
pub use hooks::{
    DecoderHooks, ReaderChunkSignal, ReaderSeek, ReaderSeekSignal, SharedHooks, SignalCursor,
};
pub use media::{AudioCodec, ContainerFormat, MediaInfo};
pub use source::{AbrControl, AbrHandle, AbrMode, SegmentLayout, Source, WaitOutcome};
pub use stream::{Fenced, Stream, StreamParts, StreamType};
pub use timeline::{ChunkPosition, Timeline};

#[cfg(feature = "mock")]
pub use dl::PeerMock;
#[cfg(feature = "mock")]
pub use source::SourceMock;
