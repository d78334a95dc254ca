//! [`FileEvent`]: what a file stream reports to the application.

use kithara_stream::Error;

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
}
