#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod detect;
mod error;
mod events;
mod link;
mod media;
mod options;
mod source;
mod station;

use kithara_decode::Decoder;
use kithara_file::FileSrc;
use kithara_stream::Stream;

use crate::media::Found;

pub use detect::{is_hls, is_playlist_type, label};
pub use error::{Error, LinkFailure, Result};
pub use events::AnyEvent;
pub use link::{is_link_type, station_link_entries, MAX_LINK_BYTES};
pub use media::{AnyConfig, AnyMedia};
pub use options::{HlsOptions, OpenOptions};
pub use source::{AnySource, Protocol};

/// A stream opened by [`open`]: a progressive file or HLS behind one concrete type.
pub type AnyStream = Stream<AnyMedia>;

/// A decoder opened by [`open_decoder`].
pub type AnyDecoder = Decoder<AnyMedia>;

/// Opens `src` (an http(s) URL or a local path) as a progressive file or HLS: a `.m3u8` name or a
/// playlist MIME type in the server's answer means HLS. A station link (a `.pls` or `.m3u` that
/// lists stream URLs, also a `.m3u8` or an `mpegurl` answer that has no `#EXT-X-` tag) opens
/// its first entry that opens (see the crate docs). Resolves once the first response (for HLS:
/// the playlists) arrived, so a missing resource fails here.
///
/// # Errors
///
/// [`Error::Stream`] with the protocol's error as its source; [`Error::LocalPlaylist`] for a local `.m3u8`;
/// [`Error::NotAdaptive`] and [`Error::NoSuchVariant`] for a fixed variant that cannot be had;
/// [`Error::StationLink`] (each entry's failure) and [`Error::LinkTooLarge`] for a station link.
pub async fn open(src: impl Into<FileSrc>, options: OpenOptions) -> Result<AnyStream> {
    let parts = media::open_parts(AnyConfig::new(src, options)).await?;
    Ok(Stream::from_parts(parts))
}

/// Opens `src` like [`open`] and probes it: a decoder ready for its first chunk (a station
/// link's entry that opens but cannot be decoded counts as failed: the next one is tried). The
/// decoder's
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
    match media::open_found(&src, &options, true).await? {
        Found::Parts(parts) => probe(&src, Stream::from_parts(*parts), &options).await,
        Found::Link(entries) => {
            let options = &options;
            station::first_entry(&src, entries, |entry| async move {
                let parts = media::entry_parts(&entry, options).await?;
                probe(&entry, Stream::from_parts(parts), options).await
            })
            .await
        }
    }
}

/// Probes `stream` (opened from `src`) on tokio's blocking pool.
async fn probe(src: &FileSrc, stream: AnyStream, options: &OpenOptions) -> Result<AnyDecoder> {
    let origin = label(src);
    let mut config = options.decoder.clone();
    if config.origin.is_none() {
        config.origin = stream.source().origin().cloned();
    }
    tokio::task::spawn_blocking(move || Decoder::new(stream, config))
        .await
        .map_err(Error::ProbeTask)?
        .map_err(|source| Error::Decode { origin, source })
}
