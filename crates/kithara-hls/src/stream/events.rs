//! [`HlsEvent`]: what an HLS stream reports to the application.

use std::time::Duration;

use kithara_stream::{Error, RedactedUrl};

use crate::abr::Reason;

/// An event of an [`Hls`](crate::Hls) stream, from [`Stream::events`](kithara_stream::Stream::events).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum HlsEvent {
    /// The variant of the segments laid out from now on changed.
    VariantSwitch {
        /// The variant before.
        from: usize,
        /// The variant after.
        to: usize,
        /// Why.
        reason: Reason,
        /// Media buffered ahead of the reader when it was decided.
        buffer: Duration,
    },
    /// A segment was fetched completely.
    SegmentFetched {
        /// Its variant.
        variant: usize,
        /// Its media sequence number.
        sequence: u64,
        /// Its size in bytes.
        bytes: u64,
    },
    /// A variant's media playlist was loaded for the first time while the stream plays (the
    /// variant's first segment follows; at open, the first variant's playlist is loaded before
    /// the stream exists and reported by no event).
    PlaylistLoaded {
        /// The variant.
        variant: usize,
    },
    /// A media playlist loaded before was loaded again (a live reload).
    PlaylistReloaded {
        /// The variant.
        variant: usize,
        /// Whether it listed anything new.
        changed: bool,
    },
    /// A discontinuity was laid out.
    Discontinuity {
        /// Byte offset of the boundary.
        pos: u64,
    },
    /// A variant failed and is left out for a while.
    VariantExcluded {
        /// The variant.
        variant: usize,
        /// The failure.
        error: Error,
    },
    /// Segments of a live stream left the window before they were fetched; they are skipped.
    SegmentsSkipped {
        /// First media sequence number skipped.
        from: u64,
        /// First one that is still there.
        to: u64,
    },
    /// The stream failed; reads of bytes not yet laid out fail with the same error.
    Failed(Error),
    /// Every segment is laid out (VOD, or a live stream after `ENDLIST`).
    Ended,
    /// A VOD playlist was served from the persistent cache (see `HlsConfig::storage`).
    PlaylistFromCache {
        /// The playlist URL, query removed.
        url: RedactedUrl,
        /// Whether the server confirmed the cached version first (a `HEAD` with its
        /// validators); otherwise it was served with no request (offline-first, validated
        /// recently enough, or the server could not be reached: see `RevalidationFailed`).
        revalidated: bool,
    },
    /// The server could not confirm a cached playlist (it is unreachable, say): the cached copy is
    /// used as it is.
    RevalidationFailed {
        /// The playlist URL, query removed.
        url: RedactedUrl,
        /// Why the revalidation failed.
        error: Error,
    },
    /// A segment or init section that an earlier session cached in part changed on the server:
    /// the cached bytes were dropped (before anyone read them) and it is fetched whole.
    VersionChanged {
        /// What the server said (the refused response).
        reason: Error,
    },
    /// With a persistent cache: a segment or init section was laid out without a request, from
    /// the cache (or from what this stream fetched earlier).
    FromCache {
        /// Its variant.
        variant: usize,
        /// Its media sequence number (`None` for an init section).
        sequence: Option<u64>,
        /// Its length in bytes.
        bytes: u64,
    },
}
