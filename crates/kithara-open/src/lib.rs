#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod detect;
mod error;
mod events;
mod media;
mod options;
mod source;

use kithara_decode::Decoder;
use kithara_file::FileSrc;
use kithara_stream::Stream;

pub use detect::{is_hls, is_playlist_type, label};
pub use error::{Error, Result};
pub use events::AnyEvent;
pub use media::{AnyConfig, AnyMedia};
pub use options::OpenOptions;
pub use source::{AnySource, Protocol};

/// A stream opened by [`open`]: a progressive file or HLS behind one concrete type.
pub type AnyStream = Stream<AnyMedia>;

/// A decoder opened by [`open_decoder`].
pub type AnyDecoder = Decoder<AnyMedia>;

/// Opens `src` (an http(s) URL or a local path) as a progressive file or HLS: a `.m3u8` name or a
/// playlist MIME type in the server's answer means HLS. Resolves once the first response (for
/// HLS: the playlists) arrived, so a missing resource fails here.
///
/// # Errors
///
/// [`Error::Stream`] with the protocol's error as its source; [`Error::LocalPlaylist`] for a local `.m3u8`;
/// [`Error::NotAdaptive`] and [`Error::NoSuchVariant`] for a fixed variant that cannot be had.
pub async fn open(src: impl Into<FileSrc>, options: OpenOptions) -> Result<AnyStream> {
    let parts = media::open_parts(AnyConfig::new(src, options)).await?;
    Ok(Stream::from_parts(parts))
}

/// Opens `src` like [`open`] and probes it: a decoder ready for its first chunk. The decoder's
/// errors name the stream's origin ([`AnySource::origin`]) unless `options.decoder` sets one.
/// Probing blocks on the stream, so it runs on tokio's blocking pool; the decoder's own methods
/// block too: call them from a thread that may block (`spawn_blocking`, a decoder thread).
///
/// # Errors
///
/// Those of [`open`]; [`Error::Decode`] when the bytes cannot be decoded (unknown format, no
/// audio track, …).
pub async fn open_decoder(src: impl Into<FileSrc>, options: OpenOptions) -> Result<AnyDecoder> {
    let src = src.into();
    let origin = label(&src);
    let mut config = options.decoder.clone();
    let stream = open(src, options).await?;
    if config.origin.is_none() {
        config.origin = stream.source().origin().cloned();
    }
    tokio::task::spawn_blocking(move || Decoder::new(stream, config))
        .await
        .map_err(Error::ProbeTask)?
        .map_err(|source| Error::Decode { origin, source })
}
