//! [`FileEvent`]: what a file stream reports to the application.

use kithara_stream::{Error, NowPlaying, StationInfo};

/// An event of a [`File`](crate::File) stream, received from [`Stream::events`](kithara_stream::Stream::events).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FileEvent {
    /// More bytes were downloaded (sent about every MiB and at the end of each request).
    Progress {
        /// Bytes present in storage.
        downloaded: u64,
        /// Total length, once known.
        total: Option<u64>,
    },
    /// A ranged request started somewhere else than the frontier (after a seek, or to fill a gap).
    RangeRequested {
        /// First byte requested.
        start: u64,
        /// End of the request (exclusive), if bounded.
        end: Option<u64>,
    },
    /// Every byte of the file is in storage.
    Completed {
        /// The file's length.
        total: u64,
    },
    /// The download failed for good; reads of missing bytes fail with the same error.
    Failed(Error),
    /// The stream opened on bytes kept in the persistent cache by an earlier session.
    FromCache {
        /// Bytes already present.
        present: u64,
        /// Total length, if recorded.
        total: Option<u64>,
        /// Whether the server is asked to confirm the version first (otherwise the cached copy is
        /// served with no request: offline-first, or validated recently enough).
        revalidating: bool,
    },
    /// The server's version differs from the cached one: the cached bytes were discarded and the
    /// file is fetched again.
    VersionChanged {
        /// Cached bytes that were discarded.
        discarded: u64,
        /// What the server said (the refused response).
        reason: Error,
    },
    /// The server could not confirm the cached copy (it is unreachable, say): the complete copy
    /// from the cache is served as it is.
    RevalidationFailed(Error),
    /// An endless stream (a radio) opened: what the station's headers say about it.
    Station(StationInfo),
    /// The radio's title changed (ICY `StreamTitle`) at this byte: the first audio byte after
    /// its block, in the stream's byte space (blocks removed). The same change reaches the
    /// decoder through `Source::metadata_marks`, to be announced when it is heard.
    NowPlaying {
        /// The byte it takes effect at.
        at: u64,
        /// What is playing.
        now_playing: NowPlaying,
    },
    /// The radio's connection dropped or stalled: the bytes after `at` come from a new
    /// connection (a discontinuity boundary lies there). One event per gap.
    Gap {
        /// The first byte after the gap.
        at: u64,
        /// Audio bytes lost, when known (for a radio, what was sent during the outage is
        /// missed and its size unknown: `None`).
        lost_bytes: Option<u64>,
        /// Why the connection ended (`None`: the station closed it).
        cause: Option<Error>,
    },
}
