//! [`TrackSource`]: the seam between the player and whatever turns a track into PCM. Today it is
//! implemented for kithara-decode's `Decoder<T>` over any `Stream<T>`; [`open`](crate::open)
//! is the one module that knows how a URL or path becomes one.

use std::time::Duration;

use kithara_decode::{Decoder, PcmChunk, TrackInfo};
use kithara_stream::{AbrHandle, NowPlaying, Source as _, StreamType};

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
    /// The bitrate in bits per second: an HLS variant's declared `BANDWIDTH` (of `variant`, else
    /// the one being read), else a file's length × 8 / its duration, when those are known.
    fn bitrate(&self, variant: Option<usize>) -> Option<u64>;
    /// What is playing at the decoder's position (after a seek: the change in effect there).
    fn now_playing(&self) -> Option<NowPlaying>;
}

/// `len` bytes over `duration`, in bits per second; `None` for an empty duration.
pub(crate) fn file_bitrate(len: u64, duration: Duration) -> Option<u64> {
    let us = duration.as_micros();
    if us == 0 {
        return None;
    }
    u64::try_from(u128::from(len) * 8_000_000 / us).ok()
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

    fn now_playing(&self) -> Option<NowPlaying> {
        Decoder::now_playing(self).cloned()
    }

    fn bitrate(&self, variant: Option<usize>) -> Option<u64> {
        let duration = Decoder::info(self).duration;
        self.with_stream(|s| {
            let source = s.source();
            if let Some(abr) = source.abr_handle() {
                let v = variant.or_else(|| source.current_variant())?;
                return abr.bandwidths().get(v).copied().filter(|&b| b > 0);
            }
            file_bitrate(s.len()?, duration?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_bitrate_is_its_bits_over_its_duration() {
        assert_eq!(file_bitrate(64_000, Duration::from_secs(4)), Some(128_000));
        assert_eq!(file_bitrate(1, Duration::ZERO), None);
        assert_eq!(file_bitrate(u64::MAX, Duration::from_micros(1)), None);
    }
}
