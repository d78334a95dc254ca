//! [`Error`]: what went wrong while opening, decoding, converting or outputting a track.

use std::path::PathBuf;

/// The player's error. Track failures reach the caller inside
/// [`Event::TrackFailed`](crate::Event::TrackFailed); set-up failures are returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream could not be opened (the first request failed, the file is missing, …).
    #[error("{label}: could not open the stream")]
    Open {
        /// The redacted URL or the path.
        label: String,
        /// The stream's error.
        #[source]
        source: kithara_stream::Error,
    },
    /// Probing or decoding failed.
    #[error("{label}: decoding failed")]
    Decode {
        /// The redacted URL or the path.
        label: String,
        /// The decoder's error (it names the origin and what was found).
        #[source]
        source: kithara_decode::Error,
    },
    /// A seek within the playing track could not be carried out (a live HLS stream, a target
    /// the stream cannot reach); the track plays on from where it was decoded.
    #[error("{label}: seek to {target:?} failed; playing on")]
    Seek {
        /// The redacted URL or the path.
        label: String,
        /// Where the caller asked to go.
        target: std::time::Duration,
        /// The decoder's error.
        #[source]
        source: kithara_decode::Error,
    },
    /// An HLS playlist named by a local path: HLS is read over http(s).
    #[error("{label}: HLS is read over http(s); serve the playlist and its segments over HTTP")]
    HlsNotRemote {
        /// The path.
        label: String,
    },
    /// kithara-open refused the track for another reason (a station link none of whose entries
    /// opens, a probe task that failed); its error is the source.
    #[error("{label}: could not open")]
    Refused {
        /// The redacted URL or the path.
        label: String,
        /// kithara-open's error (boxed: it is large, and rare).
        #[source]
        source: Box<kithara_open::Error>,
    },
    /// The track's audio cannot be converted to the sink's format.
    #[error("cannot convert {from} Hz × {channels} channels to the sink's {to} Hz: {reason}")]
    Convert {
        /// The track's rate.
        from: u32,
        /// The sink's rate.
        to: u32,
        /// The track's channel count.
        channels: u16,
        /// What the resampler said.
        reason: String,
    },
    /// A stream the caller opened ([`Track::from_stream`](crate::Track::from_stream)) was asked
    /// to play a second time.
    #[error("{label}: an opened stream plays once")]
    Consumed {
        /// The label given with the stream.
        label: String,
    },
    /// The track was cancelled before it opened (stop, next, drop).
    #[error("{label}: cancelled")]
    Cancelled {
        /// The redacted URL or the path.
        label: String,
    },
    /// A queue command named an index the queue does not have.
    #[error("the queue has no track at index {index} (it holds {len})")]
    NoSuchIndex {
        /// The index asked for.
        index: usize,
        /// The queue's length then.
        len: usize,
    },
    /// The player has been closed: the command cannot be delivered.
    #[error("the player has been closed")]
    Closed,
    /// The player's I/O runtime or one of its threads could not start.
    #[error("could not start the player's {what}")]
    Start {
        /// Which part.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The shared downloader could not be built.
    #[error("could not build the downloader")]
    Downloader(#[source] kithara_stream::Error),
    /// The sink's format is unusable (a rate or channel count of zero).
    #[error("unusable sink format: {rate} Hz, {channels} channels")]
    SinkFormat {
        /// The rate asked for.
        rate: u32,
        /// The channel count asked for.
        channels: u16,
    },
    /// Writing the WAV file failed.
    #[error("WAV sink {}", path.display())]
    Wav {
        /// The file.
        path: PathBuf,
        /// hound's error.
        #[source]
        source: hound::Error,
    },
    /// The audio device could not be opened or started.
    #[error("audio device: {what}")]
    Device {
        /// What failed (no default device, its configuration, the stream).
        what: &'static str,
        /// The audio library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sink's thread ended abnormally (it panicked).
    #[error("the {0} sink's thread ended abnormally")]
    SinkThread(&'static str),
}

/// The player's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
