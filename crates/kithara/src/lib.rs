#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use kithara_storage as storage;
pub use kithara_stream as stream;

#[cfg(feature = "decode")]
pub use kithara_decode as decode;
#[cfg(feature = "file")]
pub use kithara_file as file;
#[cfg(feature = "hls")]
pub use kithara_hls as hls;
#[cfg(feature = "play")]
pub use kithara_play as play;

pub use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    AbrMode, Stream,
};

#[cfg(feature = "file")]
pub use kithara_file::{FileSrc, RadioConfig};

#[cfg(feature = "decode")]
pub use kithara_decode::{Decoder, DecoderConfig, PcmChunk, TrackInfo};

#[cfg(feature = "open")]
pub use kithara_open::{
    open, open_decoder, AnyDecoder, AnyEvent, AnyMedia, AnySource, AnyStream, Error as OpenError,
    OpenOptions,
};
