//! The format reader's own seek (progressive files): land on an earlier packet, reset the codec,
//! discard the output before the target.

use std::time::Duration;

use symphonia::core::{
    errors::Error as SymError,
    formats::{SeekMode, SeekTo},
    units::Time,
};

use super::Core;
use crate::{
    chunk::{duration_to_frames, frames_to_duration},
    error::{Error, Result},
};

impl Core {
    pub(crate) fn seek(&mut self, to: Duration) -> Result<()> {
        let rate = self.info.sample_rate;
        let target = duration_to_frames(to, rate);
        let preroll = self.preroll();
        // In the reader's timeline: an MP4's declared delay lies before output frame 0.
        let delay = self.frame_offset.min(0).unsigned_abs();
        let from = frames_to_duration(target.saturating_sub(preroll).saturating_add(delay), rate);
        let seek_err = |source| Error::Seek {
            origin: self.origin.clone(),
            target: to,
            source,
        };
        let time = Time::try_new(
            i64::try_from(from.as_secs()).unwrap_or(i64::MAX),
            from.subsec_nanos(),
        )
        .ok_or_else(|| {
            seek_err(SymError::SeekError(
                symphonia::core::errors::SeekErrorKind::OutOfRange,
            ))
        })?;
        let seeked = self.reader.seek(
            SeekMode::Accurate,
            SeekTo::Time {
                time,
                track_id: Some(self.track_id),
            },
        );
        match seeked {
            Ok(s) => tracing::debug!(
                target,
                required = s.required_ts.get(),
                actual = s.actual_ts.get(),
                "seeked"
            ),
            Err(SymError::IoError(io)) => {
                self.done = true;
                return Err(Error::Stream {
                    origin: self.origin.clone(),
                    pos: self.stream_pos(),
                    source: io,
                });
            }
            Err(e) => return Err(seek_err(e)),
        }
        self.codec.decoder().reset();
        self.discard_before = Some(target);
        self.next_frame = target;
        self.silent_from = self.stream_pos();
        self.done = false;
        self.bad_packets = 0;
        Ok(())
    }
}

impl Core {
    /// Frames decoded and discarded before a seek target: the codec's (below), and what a
    /// restarted FDK AAC needs more.
    pub(crate) fn preroll(&self) -> u64 {
        preroll_frames(self.info.codec).saturating_add(self.codec.extra_preroll())
    }
}

/// Frames decoded and discarded before a seek target, per codec: enough packets for overlapping
/// transforms (AAC, Vorbis) and the MP3 bit reservoir to be primed. symphonia's MP3 and Ogg readers
/// also step back by themselves; the margin costs a few packets of decoding.
fn preroll_frames(codec: Option<kithara_stream::AudioCodec>) -> u64 {
    use kithara_stream::AudioCodec as C;
    match codec {
        Some(C::Pcm | C::Flac | C::Alac) => 0,
        Some(C::Mp3) => 2 * 1152,
        Some(C::AacLc) => 2048,
        _ => 4096,
    }
}
