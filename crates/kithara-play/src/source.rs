//! [`TrackSource`]: the seam between the player and whatever turns a track into PCM. Today it is
//! implemented for kithara-decode's `Decoder<T>` over any `Stream<T>`; [`open`](crate::open)
//! is the one module that knows how a URL or path becomes one.

use std::time::Duration;

use kithara_decode::{Decoder, PcmChunk, TrackInfo};
use kithara_stream::{AbrHandle, Source as _, StreamType};

/// A decoder over any stream type, as the player's decoding thread drives it.
pub(crate) trait TrackSource: Send {
    /// The next chunk of PCM; `None` at the end of the track.
    fn next_chunk(&mut self) -> kithara_decode::Result<Option<PcmChunk>>;
    /// Frame-accurate seek to `to`.
    fn seek(&mut self, to: Duration) -> kithara_decode::Result<()>;
    /// Media time of the next frame to be decoded.
    fn position(&self) -> Duration;
    /// Facts about the track.
    fn info(&self) -> &TrackInfo;
    /// The variant being read, for an adaptive (HLS) stream.
    fn variant(&self) -> Option<usize>;
    /// The adaptive stream's bitrate control, for HLS.
    fn abr_handle(&self) -> Option<AbrHandle>;
    /// Bytes downloaded ahead of the stream's reader, when the stream tells.
    fn buffered_bytes(&self) -> Option<u64>;
}

impl<T: StreamType> TrackSource for Decoder<T>
where
    Decoder<T>: Send,
{
    fn next_chunk(&mut self) -> kithara_decode::Result<Option<PcmChunk>> {
        Decoder::next_chunk(self)
    }

    fn seek(&mut self, to: Duration) -> kithara_decode::Result<()> {
        Decoder::seek(self, to)
    }

    fn position(&self) -> Duration {
        Decoder::position(self)
    }

    fn info(&self) -> &TrackInfo {
        Decoder::info(self)
    }

    fn variant(&self) -> Option<usize> {
        self.with_stream(|s| s.source().current_variant())
    }

    fn abr_handle(&self) -> Option<AbrHandle> {
        self.with_stream(|s| s.source().abr_handle())
    }

    fn buffered_bytes(&self) -> Option<u64> {
        self.with_stream(|s| s.source().buffered_ahead())
    }
}
