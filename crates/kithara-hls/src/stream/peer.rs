//! [`HlsPeer`]: what an HLS stream fetches next, and when.
//!
//! The peer is an adapter: it feeds the planner (`super::planner`) its inputs — the reader's
//! seeks and "switch now"s (taken from the layout), the ABR decision for the next segment, the
//! time for live reloads and the abandon rule — and turns its answers into `FetchCmd`s, whose
//! callbacks only report back (length, bytes, outcome) through `Shared`.
//!
//! Segments are laid out one at a time in play order, each with what it needs alongside it in the
//! same batch (the variant's init section, its key), keeping the buffer ahead of the reader at the
//! configured target. Before each segment the ABR policy picks its variant; a switch (or a
//! discontinuity, or a seek that starts a new run) becomes a boundary. Live playlists are
//! reloaded every target duration (half of it after an unchanged reload). A segment or playlist
//! that fails after the downloader's retries excludes its variant for a while and the same
//! segment is fetched from another variant; with none left the stream fails with the error.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use kithara_stream::{
    dl::{FetchCmd, FetchPurpose, Peer, Priority, ThroughputSample},
    redact_url, SignalCursor,
};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    planner::{Verdict, CHECK_EVERY},
    shared::{Shared, State, LIVE_RETENTION},
};
use crate::abr::{AbrContext, AbrPolicy, BufferRule, Decision};

/// The download policy of one HLS stream; registered with the shared downloader by
/// [`Hls`](crate::Hls) when a stream opens.
pub struct HlsPeer {
    pub(super) shared: Arc<Shared>,
    chunk_cursor: SignalCursor,
    seek_cursor: SignalCursor,
    reload: Option<Pin<Box<tokio::time::Sleep>>>,
    abandon_check: Option<Pin<Box<tokio::time::Sleep>>>,
    label: String,
}

impl std::fmt::Debug for HlsPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsPeer")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl HlsPeer {
    pub(crate) fn new(shared: Arc<Shared>, label: String) -> Self {
        Self {
            shared,
            chunk_cursor: SignalCursor::default(),
            seek_cursor: SignalCursor::default(),
            reload: None,
            abandon_check: None,
            label,
        }
    }

    /// Seconds of media laid out ahead of the reader.
    pub(super) fn buffer(&self) -> Duration {
        let pos = self.shared.timeline.position();
        let st = self.shared.layout.lock();
        let end = st.end_time().unwrap_or_default();
        let at = st.entry_at(pos).map(|e| e.time).unwrap_or_else(|| {
            if pos >= st.end() {
                end
            } else {
                Duration::ZERO
            }
        });
        end.saturating_sub(at)
    }

    /// Input to the planner: a new run the reader asked for by a seek by time.
    fn follow_seek(&self, st: &mut State) {
        let request = self.shared.layout.lock().seek.take();
        let Some(req) = request else { return };
        if let Some(f) = st.planner.seek(req.sequence) {
            f.handle.token.cancel();
        }
        tracing::debug!(sequence = req.sequence, "new run after a seek by time");
    }

    /// Input to the planner: a "switch now" asked through the ABR handle. The layout cut what the
    /// reader has not seen; the planner goes on from there with the new mode.
    fn follow_switch(&self, st: &mut State) {
        let cut = self.shared.layout.lock().switch.take();
        let Some(cut) = cut else { return };
        if let Some(f) = st.planner.rewind(cut.sequence, cut.kept_variant) {
            f.handle.token.cancel();
        }
        self.shared.layout.wake_peer();
        tracing::debug!(sequence = ?cut.sequence, "switching now: unseen pieces replaced");
    }

    /// The variant for the next segment.
    fn choose(&self, st: &mut State, segment: Duration) -> Option<Decision> {
        if let Some(forced) = st.planner.take_forced() {
            return Some(forced);
        }
        let now = Instant::now();
        let ladder = st.planner.variants().bitrates();
        let mask = st.planner.excluded_mask(now);
        let current = st
            .planner
            .last_variant()
            .unwrap_or_else(|| st.planner.chosen());
        let ctx = AbrContext::new(&ladder, current, self.buffer(), segment)
            .buffer_target(self.shared.buffer_ahead)
            .mode(kithara_stream::AbrControl::mode(&*self.shared.abr))
            .max_bitrate(self.shared.abr.max_bitrate())
            .excluded(&mask);
        st.policy.decide(&ctx)
    }

    /// Raises the segment in flight to urgent once the reader has nothing left before it (it was
    /// issued at normal priority while there was a buffer): a busy downloader must not keep it
    /// queued behind other streams' requests while the reader waits.
    fn raise_if_waited_for(&self, st: &State) {
        let Some(priority) = st.planner.flight().and_then(|f| f.handle.priority.as_ref()) else {
            return;
        };
        if priority.get() < Priority::Urgent && self.buffer().is_zero() {
            let wanted = self.shared.priority.apply(Priority::Urgent);
            if priority.raise(wanted) {
                tracing::debug!(priority = ?wanted, "the reader waits for the segment in flight: raised");
            }
        }
    }
}

impl Peer for HlsPeer {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        let shared = self.shared.clone();
        {
            let mut layout = shared.layout.lock();
            layout.peer_waker = Some(cx.waker().clone());
        }
        let mut st = shared.lock();
        if shared.layout.is_failed() || shared.cancel.is_cancelled() {
            return Poll::Ready(None);
        }
        self.follow_seek(&mut st);
        self.follow_switch(&mut st);
        let mut cmds = Vec::new();
        let live = st.planner.variants().is_live();
        // Live: reload the playlist being played when due.
        if live {
            let variant = st
                .planner
                .last_variant()
                .unwrap_or_else(|| st.planner.chosen());
            let target = st.planner.variants().target_duration(variant);
            if st.planner.reload().due(Instant::now(), target) {
                if let Some(cmd) = self.playlist_cmd(&mut st, variant) {
                    cmds.push(cmd);
                }
            }
            if let Some(due) = st.planner.reload().next() {
                let sleep = self
                    .reload
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due.into())));
                sleep.as_mut().reset(due.into());
                if sleep.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
            }
        }
        if st.planner.flight().is_some() {
            self.check_abandon(&mut st, cx);
            self.raise_if_waited_for(&st);
        }
        if st.planner.wants_segment() {
            self.next_segment(&mut st, live, &mut cmds);
        }
        // Live streams, and streams kept in files (one descriptor per piece), hold only the
        // pieces near the reader; a seek back to a released piece fetches it again.
        if live || st.planner.started_live() || shared.file_backed {
            if let Some(now) = shared.timeline.time_at(shared.timeline.position()) {
                let before = now.saturating_sub(LIVE_RETENTION);
                shared.layout.release_before(before, LIVE_RETENTION);
                st.store
                    .retain(|_, r| r.failure().is_none() && !r.is_cancelled());
            }
        }
        // Woken again when the reader moves: a read drains the buffer, a seek (published once
        // the reader's position has moved) may need a new run.
        let hooks = shared.timeline.hooks();
        while hooks
            .chunk
            .poll_changed(cx, &mut self.chunk_cursor)
            .is_ready()
        {}
        if hooks
            .seek
            .poll_changed(cx, &mut self.seek_cursor)
            .is_ready()
        {
            cx.waker().wake_by_ref();
        }
        if cmds.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Some(cmds))
        }
    }

    fn cancel_token(&self) -> CancellationToken {
        self.shared.cancel.clone()
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn on_throughput(&mut self, sample: ThroughputSample) {
        if sample.purpose == FetchPurpose::Media {
            self.shared.lock().policy.on_sample(&sample);
        }
    }
}

impl HlsPeer {
    /// Applies the abandon rule to the segment in flight, and checks again in a while.
    fn check_abandon(&mut self, st: &mut State, cx: &mut Context<'_>) {
        let automatic =
            kithara_stream::AbrControl::mode(&*self.shared.abr) == kithara_stream::AbrMode::Auto;
        let Some(flight) = st.planner.flight().filter(|_| automatic) else {
            return;
        };
        // A placed piece is final (the reader may have seen its boundary): only a segment not
        // laid out yet can be given up.
        if !st.planner.is_queued(flight.id) {
            return;
        }
        let now = Instant::now();
        let ladder = st.planner.variants().bitrates();
        let mask = st.planner.excluded_mask(now);
        let cap = self.shared.abr.max_bitrate();
        let allowed: Vec<usize> = (0..ladder.len())
            .filter(|&v| !mask.get(v).copied().unwrap_or(false))
            .filter(|&v| ladder.get(v).is_some_and(|&b| cap.is_none_or(|c| b <= c)))
            .collect();
        let progress = flight.handle.progress();
        let verdict = flight.verdict(now, progress, self.buffer(), &ladder, &allowed);
        if let Verdict::SwitchTo(to) = verdict {
            let Some(flight) = st.planner.abandon(to) else {
                return;
            };
            tracing::warn!(
                from = flight.variant,
                to,
                sequence = flight.sequence,
                "segment would stall the reader: switching down"
            );
            flight.handle.token.cancel();
            let elapsed = now.saturating_duration_since(flight.started);
            st.policy.on_transfer(progress.loaded, elapsed);
            return;
        }
        // Look again shortly while it loads.
        let due = now + CHECK_EVERY;
        let sleep = self
            .abandon_check
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due.into())));
        sleep.as_mut().reset(due.into());
        if sleep.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
    }

    fn next_segment(&self, st: &mut State, live: bool, cmds: &mut Vec<FetchCmd>) {
        if self.buffer() >= self.shared.buffer_ahead {
            return;
        }
        let segment_len = st
            .planner
            .variants()
            .target_duration(st.planner.last_variant().unwrap_or(0));
        let Some(decision) = self.choose(st, segment_len) else {
            return;
        };
        let variant = decision.variant;
        if st.planner.variants().playlist(variant).is_none() {
            if let Some(cmd) = self.playlist_cmd(st, variant) {
                cmds.push(cmd);
            }
            return;
        }
        let Some(playlist) = st.planner.variants().snapshot(variant) else {
            return;
        };
        st.planner.skip_to(playlist.media_sequence);
        self.shared.forward(st);
        let next = st.planner.next_sequence();
        let Some(seg) = playlist.segment_by_sequence(next).cloned() else {
            if playlist.end_list && st.planner.end() {
                self.shared.forward(st);
                // The layout ends once the pieces still queued are placed (`place_ready`).
                self.shared.place_ready(st);
            }
            return;
        };
        let cached = self.shared.playlists.cache.is_some() && !live && !st.planner.started_live();
        if cached && self.prepare_cached(st, &seg, cmds) {
            // The same decision once the piece's cached assets are open.
            st.planner.force(decision);
            return;
        }
        st.planner.decided(&decision, self.buffer());
        self.shared.forward(st);
        self.shared.publish_played(st, variant);
        cmds.extend(self.segment_cmds(st, variant, &seg, live));
    }
}

pub(crate) fn label(url: &Url) -> String {
    redact_url(url).to_string()
}

pub(crate) fn default_policy() -> Box<dyn AbrPolicy> {
    Box::new(BufferRule::default())
}
