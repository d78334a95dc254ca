#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "probe"), forbid(unsafe_code))]
#![cfg_attr(feature = "probe", deny(unsafe_code))]
#![deny(missing_docs)]

mod boundary;
mod class;
pub mod dl;
mod error;
mod events;
mod hooks;
mod media;
mod metadata;
mod options;
mod perf;
mod probe;
mod redact;
mod runtime_check;
mod source;
mod stream;
mod timeline;

pub use boundary::{Boundary, BoundaryKind, TimeAnchor, TimeMap};
pub use class::{find_error, ErrorClass, ProtocolError};
pub use error::{redact_url, Error, RedactedUrl, Result, SharedError, TransportKind};
pub use events::{EventReceiver, Received};
pub use hooks::{
    DecoderHooks, ReaderChunkSignal, ReaderSeek, ReaderSeekSignal, SharedHooks, SignalCursor,
};
pub use media::{AudioCodec, ContainerFormat, MediaInfo, StationInfo};
pub use metadata::{MarkAt, MetadataMark, MetadataMarks, NowPlaying, RawField, DEFAULT_MARKS_KEPT};
pub use options::{FetchPriority, Opening, StreamOptions};
pub use source::{AbrControl, AbrHandle, AbrMode, Source, WaitOutcome};
pub use stream::{Fenced, Stream, StreamParts, StreamType};
pub use timeline::{ChunkPosition, Timeline};

#[cfg(feature = "mock")]
pub use dl::PeerMock;
#[cfg(feature = "mock")]
pub use source::SourceMock;
