//! The synchronous random-access surface that decoders read through.
//!
//! A [`Source`] maps stream positions onto storage (identity for a progressive file, a segment
//! table for HLS) and blocks its caller, with a bounded budget, until bytes are present. It never
//! performs I/O on the network itself: the peer behind it fills the storage, and the source only
//! publishes demand through [`SharedHooks`](crate::SharedHooks).

use std::{ops::Range, sync::Arc};

pub use kithara_storage::WaitOutcome;

use std::time::Duration;

use crate::{
    boundary::{Boundary, TimeAnchor},
    error::{Error, Result},
    media::MediaInfo,
    timeline::Timeline,
};

/// How an adaptive source chooses its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AbrMode {
    /// The source switches variants by itself from measured throughput.
    #[default]
    Auto,
    /// The source stays on this variant: an index into the source's ladder in playlist order
    /// (for HLS, the order of `EXT-X-STREAM-INF` in the master playlist), not a bitrate rank. Use
    /// [`AbrControl::lowest`] / [`AbrControl::highest`] for the variant of the lowest or highest
    /// bandwidth.
    Fixed(usize),
}

/// Control surface of an adaptive source's bitrate logic, handed out by [`Source::abr_handle`].
pub trait AbrControl: Send + Sync + std::fmt::Debug {
    /// Number of variants to choose from.
    fn variant_count(&self) -> usize;
    /// Current selection mode.
    fn mode(&self) -> AbrMode;
    /// Changes the selection mode; takes effect at the next segment boundary.
    fn set_mode(&self, mode: AbrMode);
    /// The highest bitrate the source may choose, in bits per second, if capped.
    fn max_bitrate(&self) -> Option<u64> {
        None
    }
    /// Caps (or, with `None`, uncaps) the bitrate; takes effect at the next segment.
    fn set_max_bitrate(&self, bps: Option<u64>) {
        let _ = bps;
    }
    /// The bandwidth of each variant in bits per second, by the index [`AbrMode::Fixed`] takes
    /// (0 where the source does not know it). Empty by default.
    fn bandwidths(&self) -> Vec<u64> {
        Vec::new()
    }
    /// The index of the variant with the lowest bandwidth (the first of equals), if any.
    fn lowest(&self) -> Option<usize> {
        let b = self.bandwidths();
        (0..b.len()).min_by_key(|&i| (b[i], i))
    }
    /// The index of the variant with the highest bandwidth (the first of equals), if any.
    fn highest(&self) -> Option<usize> {
        let b = self.bandwidths();
        (0..b.len()).max_by_key(|&i| (b[i], std::cmp::Reverse(i)))
    }
    /// Changes the selection mode and makes it take effect at the next segment after the
    /// reader's position: segments laid out ahead that the reader has not reached (nor seen a
    /// boundary of) are replaced, so the variant heard changes within a segment rather than after
    /// the whole buffer. What the reader has seen never changes. By default the same as
    /// [`set_mode`](Self::set_mode).
    fn switch_now(&self, mode: AbrMode) {
        self.set_mode(mode);
    }
}

/// A shared handle to an adaptive source's bitrate control.
pub type AbrHandle = Arc<dyn AbrControl>;

/// Synchronous random access to a stream's bytes.
///
/// Implementations are `Send + Sync` so the [`Stream`](crate::Stream) that owns one can be moved to
/// (and shared with) a decoder thread. The blocking methods must only be called from a thread that
/// may block: never from inside an async task.
#[cfg_attr(feature = "mock", unimock::unimock(api = SourceMock))]
pub trait Source: Send + Sync + 'static {
    /// Blocks until `range` (clamped to the known length) is present ([`WaitOutcome::Ready`]) or
    /// the stream is proven to end at or before `range.start` ([`WaitOutcome::Eof`]).
    ///
    /// # Errors
    /// The source owns the wait budget: when it runs out, [`Error::WaitTimeout`](crate::Error::WaitTimeout)
    /// with the range and the time waited. Failures of the download (HTTP status, exhausted
    /// retries) are returned with their cause, a cancelled stream as [`Error::Cancelled`](crate::Error::Cancelled).
    fn wait_range(&mut self, range: Range<u64>) -> Result<WaitOutcome>;

    /// Copies present bytes starting at `offset` into `buf` without waiting and returns how many were
    /// copied (0 if the byte at `offset` is not present).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize>;

    /// Total length in bytes, once known.
    fn len(&self) -> Option<u64>;

    /// Whether the length is known to be zero.
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The reader's current byte position.
    fn position(&self) -> u64 {
        self.timeline().position()
    }

    /// Format hints known so far (from MIME type, extension or playlist); for an adaptive source,
    /// those of the variant at the read position (see [`current_variant`](Self::current_variant)).
    fn media_info(&self) -> Option<MediaInfo> {
        None
    }

    /// The stream's position bookkeeping.
    fn timeline(&self) -> &Timeline;

    /// Body bytes received over the network for this stream so far (media, and for HLS the
    /// playlists and keys too), counting bytes fetched again after a seek or a failure; distinct
    /// from the bytes present in storage. 0 for a local file and for bytes served from a cache.
    fn bytes_fetched(&self) -> u64 {
        0
    }

    /// Bytes present from the reader's position on without a gap (downloaded and not yet read):
    /// the network buffer ahead of the reader. `None` when the source cannot tell (the default).
    fn buffered_ahead(&self) -> Option<u64> {
        None
    }

    /// Whether seeking is meaningful (false for live streams without a seekable window).
    fn is_seekable(&self) -> bool {
        true
    }

    /// Index of the variant at the read position (the one being heard), for adaptive sources.
    fn current_variant(&self) -> Option<usize> {
        None
    }

    /// The bitrate control of an adaptive source.
    fn abr_handle(&self) -> Option<AbrHandle> {
        None
    }

    /// The first boundary at or after byte `from` that is known so far (see [`Boundary`]). A
    /// [`Stream`](crate::Stream) never lets one read cross a boundary.
    fn next_boundary(&self, from: u64) -> Option<Boundary> {
        let _ = from;
        None
    }

    /// The in-band metadata marks recorded so far whose number is `from` or later, in order (see
    /// [`MetadataMark`](crate::MetadataMark)): ICY titles, timed ID3, `EXT-X-DATERANGE`, tags met
    /// in the middle of an endless stream. A decoder reports each with the first audio at or after
    /// its place. None for sources without in-band metadata (the default).
    fn metadata_marks(&self, from: u64) -> Vec<crate::MetadataMark> {
        let _ = from;
        Vec::new()
    }

    /// Whether the reader may move to byte `pos`: [`Stream`](crate::Stream)'s `Seek` asks before
    /// it moves. A source that keeps only part of its bytes (a ring) refuses a position it no
    /// longer keeps, with the typed error that says what it keeps. Default: any position.
    ///
    /// # Errors
    /// The source's reason to refuse `pos`.
    fn check_seek(&self, pos: u64) -> Result<()> {
        let _ = pos;
        Ok(())
    }

    /// Maps media time `t` to the byte to read from, preparing the bytes there (for HLS: the
    /// start of the segment holding `t`, laying out a new run after a seek-jump boundary when it
    /// is not laid out yet). [`Stream::seek_time`](crate::Stream::seek_time) then moves the reader
    /// there.
    ///
    /// # Errors
    /// [`Error::TimeSeekUnsupported`] for sources that cannot map time (the default), or what the
    /// source's mapping failed with.
    fn seek_time(&mut self, t: Duration) -> Result<TimeAnchor> {
        let _ = t;
        Err(Error::TimeSeekUnsupported)
    }
}
