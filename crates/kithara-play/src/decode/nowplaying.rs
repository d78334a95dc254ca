//! What is playing, on the ring's frame numbering: each change a decoded chunk carries becomes a
//! marker at its frame, so that the control thread announces it when the sink has consumed it.

use std::time::Duration;

use kithara_decode::PcmChunk;

use super::DecodeThread;
use crate::{msg::MarkerKind, TrackId};

impl DecodeThread {
    /// Marks each change of what is playing in `chunk` at its frame: the events go out when the
    /// sink has consumed that frame.
    pub(super) fn mark_now_playing(&mut self, id: TrackId, chunk: &PcmChunk) {
        if chunk.now_playing.is_empty() {
            return;
        }
        let start = self.conv.input_end(self.writer.produced());
        let in_rate = u128::from(chunk.sample_rate.max(1));
        let out_rate = u128::from(self.conv.rate());
        for change in &chunk.now_playing {
            let offset = change.offset as u128;
            // The frame of the change in the ring's numbering (at the ring's rate).
            let frame = u64::try_from(offset * out_rate / in_rate).unwrap_or(u64::MAX);
            let into = u64::try_from(offset * 1_000_000_000 / in_rate).unwrap_or(u64::MAX);
            let kind = MarkerKind::NowPlaying {
                id,
                now_playing: Box::new(change.now_playing.clone()),
                at: chunk.time.saturating_add(Duration::from_nanos(into)),
            };
            self.marker(start.saturating_add(frame), kind);
        }
    }
}
