//! [`HlsSource`]: the synchronous side of an HLS stream, reading the laid-out pieces.

use std::{
    ops::Range,
    sync::Arc,
    time::{Duration, Instant},
};

use kithara_stream::{
    dl::PeerHandle, AbrHandle, Boundary, Error, MediaInfo, Result, Source, TimeAnchor, Timeline,
    WaitOutcome,
};

use super::{abr_control::AbrShared, layout::Layout};

/// The source of a [`Hls`](crate::Hls) stream: one byte space of init sections and segments in
/// play order (see the crate docs).
#[derive(Debug)]
pub struct HlsSource {
    pub(crate) layout: Layout,
    pub(crate) timeline: Timeline,
    pub(crate) wait_timeout: Duration,
    pub(crate) variants: Vec<super::VariantSummary>,
    pub(crate) abr: Arc<AbrShared>,
    pub(crate) peer: PeerHandle,
    /// Body bytes of the playlists (and the open-time key) fetched over the wire.
    pub(crate) playlist_bytes: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) seekable: bool,
    /// The variant the stream opened with: the one heard before anything is laid out.
    pub(crate) opened: usize,
    /// The now-playing marks of the timed metadata (see `marks.rs`).
    pub(crate) marks: super::marks::Marks,
}

impl HlsSource {
    /// The registered peer.
    pub fn peer(&self) -> &PeerHandle {
        &self.peer
    }

    /// The ladder: every variant of the stream, in master playlist order (one for a URL that
    /// named a media playlist). A variant's place here is its [`VariantSummary::index`](super::VariantSummary::index),
    /// the index `AbrMode::Fixed` takes, [`current_variant`](Source::current_variant) answers
    /// and `HlsEvent`s name; its `bandwidth` is what the ABR rule compares (the order is the
    /// playlist's, not by bandwidth: `AbrControl::lowest`/`highest` find those).
    pub fn variants(&self) -> &[super::VariantSummary] {
        &self.variants
    }

    /// Whether the stream is live (its playlist had no `ENDLIST` when opened).
    pub fn is_live(&self) -> bool {
        !self.seekable
    }

    /// Which variant the byte at `pos` belongs to.
    fn variant_at(&self, pos: u64) -> Option<usize> {
        self.layout.lock().variant_at(pos)
    }
}

impl Source for HlsSource {
    fn metadata_marks(&self, from: u64) -> Vec<kithara_stream::MetadataMark> {
        self.record_marks();
        self.marks.list.since(from)
    }

    fn wait_range(&mut self, range: Range<u64>) -> Result<WaitOutcome> {
        let deadline = Instant::now() + self.wait_timeout;
        let mut st = self.layout.lock();
        loop {
            if st.cancelled {
                return Err(Error::Cancelled);
            }
            if let Some(e) = st.entry_at(range.start) {
                let (res, start, end) = (e.res.clone(), e.start, e.end());
                // Being waited on: a "switch now" keeps it.
                st.see(range.start.saturating_add(1));
                drop(st);
                let local = range.start - start..range.end.min(end) - start;
                let left = deadline.saturating_duration_since(Instant::now());
                return match res.wait_range(local, left) {
                    // A placed piece has its exact length, so its end is not the stream's.
                    Ok(_) => Ok(WaitOutcome::Ready),
                    Err(kithara_storage::Error::TimedOut { waited, .. }) => {
                        Err(Error::WaitTimeout {
                            range,
                            waited: self.wait_timeout.saturating_sub(left) + waited,
                        })
                    }
                    Err(e) => Err(e.into()),
                };
            }
            if range.start >= st.end() {
                if let Some(e) = &st.failed {
                    return Err(e.clone());
                }
                if st.ended {
                    return Ok(WaitOutcome::Eof);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::WaitTimeout {
                    range,
                    waited: self.wait_timeout,
                });
            }
            st = self
                .layout
                .condvar()
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (res, start, n) = {
            let mut st = self.layout.lock();
            let Some(e) = st.entry_at(offset) else {
                return Ok(0);
            };
            let (res, start, end) = (e.res.clone(), e.start, e.end());
            let room = usize::try_from(end - offset).unwrap_or(usize::MAX);
            let n = buf.len().min(room);
            st.see(offset.saturating_add(n as u64));
            (res, start, n)
        };
        Ok(res.read_at(offset - start, &mut buf[..n])?)
    }

    fn len(&self) -> Option<u64> {
        let mut st = self.layout.lock();
        let len = st.ended.then(|| st.end());
        if let Some(end) = len {
            // A reader that knows the length has seen where the stream ends.
            st.see(end);
        }
        len
    }

    fn media_info(&self) -> Option<MediaInfo> {
        let pos = self.timeline.position();
        let v = self.variant_at(pos).unwrap_or(self.opened);
        self.variants.get(v).map(|s| s.media_info)
    }

    fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    fn bytes_fetched(&self) -> u64 {
        let playlists = self
            .playlist_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        self.peer.bytes_fetched().saturating_add(playlists)
    }

    fn buffered_ahead(&self) -> Option<u64> {
        let pos = self.timeline.position();
        let st = self.layout.lock();
        let mut at = pos;
        // Across the pieces laid out after the reader, while each is present to its end.
        while let Some(e) = st.entry_at(at) {
            let end = e
                .res
                .contiguous_end(at - e.start)
                .map_or(at, |l| e.start + l);
            if end <= at {
                break;
            }
            at = end;
            if end < e.end() {
                break;
            }
        }
        Some(at - pos)
    }

    fn is_seekable(&self) -> bool {
        self.seekable
    }

    fn current_variant(&self) -> Option<usize> {
        Some(
            self.variant_at(self.timeline.position())
                .unwrap_or(self.opened),
        )
    }

    fn abr_handle(&self) -> Option<AbrHandle> {
        Some(self.abr.clone())
    }

    fn next_boundary(&self, from: u64) -> Option<Boundary> {
        let mut st = self.layout.lock();
        let b = st.next_boundary(from).cloned();
        if let Some(b) = &b {
            st.see(b.pos.saturating_add(1));
        }
        b
    }

    fn seek_time(&mut self, t: Duration) -> Result<TimeAnchor> {
        if !self.seekable {
            return Err(Error::TimeSeekUnsupported);
        }
        let mut st = self.layout.lock();
        // Laid out already in the current run: read it where it is. An earlier run was cut by a
        // seek, so reading on from there would run into the next run's media (a jump in time);
        // such media is laid out again in a new run, which reuses the fetched pieces.
        if let Some(e) = st.segment_at(t) {
            let anchor = TimeAnchor::new(e.start, e.time).with_init(e.init.clone());
            st.see(anchor.pos.saturating_add(1));
            return Ok(anchor);
        }
        // Otherwise a new run starts at the end of the layout, from the segment holding `t`.
        let Some((sequence, start)) = st.played.as_ref().and_then(|p| {
            p.segments
                .iter()
                .find(|s| s.start <= t && t < s.start + s.duration)
                .map(|s| (s.sequence, s.start))
        }) else {
            return Err(Error::InvalidSeek {
                reason: "the time is past the end of the presentation",
            });
        };
        let pos = st.start_run(sequence, start);
        tracing::debug!(pos, sequence, "seek by time starts a new run");
        self.layout.changed(st);
        // Its init section, if any, is not laid out yet: the seek-jump boundary at `pos` names
        // it once the run's first piece is placed.
        Ok(TimeAnchor::new(pos, start))
    }
}
