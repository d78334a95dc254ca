//! Where a stream's bytes change meaning, and how time maps onto bytes.
//!
//! Segmented protocols (HLS) present one byte space in which the codec set-up can change: a new
//! init segment, another variant, a discontinuity, a jump to a seek target. A [`Boundary`] marks
//! such a place; one `read` of a [`Stream`](crate::Stream) never crosses one, so a decoder can stop
//! there, re-create itself with the [`MediaInfo`] that holds after it, and go on. A [`TimeMap`]
//! (installed on the [`Timeline`](crate::Timeline) by the protocol) maps media time onto bytes,
//! and a [`TimeAnchor`] is where a seek by time lands.

use std::{fmt, ops::Range, time::Duration};

use crate::media::MediaInfo;

/// What changes at a [`Boundary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BoundaryKind {
    /// An initialisation segment (codec set-up) starts here.
    Init,
    /// The bytes after this point belong to another variant (bitrate, codec parameters).
    VariantSwitch,
    /// A discontinuity: timestamps, and possibly the encoding, restart.
    Discontinuity,
    /// The bytes after this point were fetched for a seek: they do not continue what is before.
    SeekJump,
}

impl fmt::Display for BoundaryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Init => "init segment",
            Self::VariantSwitch => "variant switch",
            Self::Discontinuity => "discontinuity",
            Self::SeekJump => "seek jump",
        })
    }
}

/// A place in a stream's byte space where a decoder may have to start over.
///
/// Once a source has reported a boundary, it and the bytes before it never change meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Boundary {
    /// Byte offset of the first byte after the boundary.
    pub pos: u64,
    /// What changes there.
    pub kind: BoundaryKind,
    /// The format facts that hold from `pos` on.
    pub media_info: Option<MediaInfo>,
    /// Media time at `pos`, if known.
    pub time: Option<Duration>,
    /// Where, in this stream's byte space, the initialisation section that the bytes after `pos`
    /// need lies (an fMP4 `EXT-X-MAP`), if they need one. Equal to `pos..` when the boundary
    /// starts with that section; before `pos` when a section laid out earlier applies.
    pub init: Option<Range<u64>>,
}

impl Boundary {
    /// A boundary of `kind` at `pos`.
    pub fn new(pos: u64, kind: BoundaryKind) -> Self {
        Self {
            pos,
            kind,
            media_info: None,
            time: None,
            init: None,
        }
    }

    /// With the format facts that hold after it.
    #[must_use]
    pub fn with_media_info(mut self, info: Option<MediaInfo>) -> Self {
        self.media_info = info;
        self
    }

    /// With the media time at its position.
    #[must_use]
    pub fn with_time(mut self, time: Duration) -> Self {
        self.time = Some(time);
        self
    }

    /// With the range of the initialisation section the bytes after it need.
    #[must_use]
    pub fn with_init(mut self, init: Option<Range<u64>>) -> Self {
        self.init = init;
        self
    }
}

/// Where a seek by time lands: the byte to read from and the media time there (for HLS, the
/// start of the segment holding the requested time).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeAnchor {
    /// Byte offset to read from.
    pub pos: u64,
    /// Media time at `pos` (at or before the requested time).
    pub time: Duration,
    /// Where the initialisation section that the bytes at `pos` need lies in the stream's byte
    /// space (an fMP4 `EXT-X-MAP`), if they need one; `pos..` when the anchor starts with it.
    /// `None` as well when the anchor starts a run that is not laid out yet: its bytes will
    /// start with the section if they need one (the [`Boundary`] there names it once placed).
    pub init: Option<Range<u64>>,
}

impl TimeAnchor {
    /// An anchor at byte `pos`, media time `time`.
    pub fn new(pos: u64, time: Duration) -> Self {
        Self {
            pos,
            time,
            init: None,
        }
    }

    /// With the range of the initialisation section the bytes at the anchor need.
    #[must_use]
    pub fn with_init(mut self, init: Option<Range<u64>>) -> Self {
        self.init = init;
        self
    }
}

/// A protocol's map between bytes and media time (the constant-bitrate guess does not hold for
/// segmented media). Installed with [`Timeline::set_time_map`](crate::Timeline::set_time_map).
pub trait TimeMap: Send + Sync + fmt::Debug {
    /// Media time at byte `pos`, if that byte is mapped.
    fn time_at(&self, pos: u64) -> Option<Duration>;
    /// Byte where media time `t` is, if mapped.
    fn byte_at(&self, t: Duration) -> Option<u64>;
}
