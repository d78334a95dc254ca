//! [`StreamChange`]: a boundary of the stream that the decoder crossed.

use kithara_stream::{BoundaryKind, MediaInfo};

use crate::info::TrackInfo;

/// A boundary of the stream (variant switch, discontinuity, new init section, seek jump) that the
/// [`Decoder`](crate::Decoder) crossed while decoding: it drained the format reader that ended
/// there and opened a new one for the bytes after it.
///
/// Reported on the first [`PcmChunk`](crate::PcmChunk) decoded after the boundary
/// ([`PcmChunk::change`](crate::PcmChunk::change)), so a player learns of it exactly where the
/// audio changes. The timeline goes on without a gap or a repeated frame: that chunk's
/// [`time`](crate::PcmChunk::time) is the previous chunk's end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamChange {
    /// What changed at the boundary.
    pub kind: BoundaryKind,
    /// Stream byte offset of the boundary (the first byte the new reader read).
    pub pos: u64,
    /// The format facts the stream published for the bytes after the boundary (the new variant's
    /// codec, container, rate; its variant index).
    pub media_info: Option<MediaInfo>,
    /// The variant heard after the boundary (adaptive streams): the boundary's
    /// `media_info.variant_index`, else the variant the new reader's bytes belong to.
    pub variant: Option<usize>,
    /// The track as the new reader sees it.
    pub info: TrackInfo,
    /// Whether the codec (and its state) carried over: true when the codec set-up is the same on
    /// both sides of a variant switch or new init section, so overlapping transforms continue
    /// seamlessly. Otherwise a new codec was made for the new parameters.
    pub codec_kept: bool,
}
