//! [`FilePeer`]: the download policy of one progressive file.
//!
//! It keeps one request running. It starts sequentially from byte 0 (`Range: bytes=0-`, which also
//! tells whether the server honours ranges and the total length). When the reader seeks into bytes
//! that are neither present nor about to arrive (more than `seek_threshold` beyond the running
//! request's frontier, or behind its start), it cancels that request and starts a new one at the seek
//! target. Each request runs to the end of the gap it fills; then the next gap after the reader is
//! fetched, then the gaps before it, until the file is complete. A server that ignores `Range` gets
//! one sequential request only: forward seeks wait for it, backward seeks are served from storage.
//! Storage seeded from the persistent cache changes only where it starts: present ranges are gaps
//! no longer, every request carries the stored validator (`If-Range`), and a complete copy that
//! must be confirmed gets one `HEAD` instead of any `GET`.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
};

use http::HeaderMap;
use kithara_storage::StorageResource;
use kithara_stream::{
    dl::{ByteRange, FetchCmd, Peer, Priority},
    redact_url, Error, FetchPriority, SignalCursor, Timeline,
};
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    events::FileEvent,
    shared::{Active, FirstResponse, Shared, State, REVALIDATION},
};

/// Progress events are sent at most once per this many bytes.
const PROGRESS_EVERY: u64 = 1 << 20;
/// Smallest request issued when a buffer-ahead limit is set.
const MIN_WINDOW: u64 = 64 * 1024;

/// The download policy of one progressive file; registered with the shared downloader by
/// [`File`](crate::File) when a stream opens.
#[derive(Debug)]
pub struct FilePeer {
    url: Url,
    headers: HeaderMap,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    seek_cursor: SignalCursor,
    chunk_cursor: SignalCursor,
    seek_threshold: u64,
    stall_timeout: Option<std::time::Duration>,
    priority: FetchPriority,
    next_id: u64,
    downloaded: Arc<AtomicU64>,
    completed: bool,
}

/// Everything a [`FilePeer`] is built from.
pub(crate) struct PeerParts {
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) resource: StorageResource,
    pub(crate) timeline: Timeline,
    pub(crate) events: broadcast::Sender<FileEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) seek_threshold: u64,
    /// The stall watchdog of this stream's requests (`None`: the downloader's inactivity timeout).
    pub(crate) stall_timeout: Option<std::time::Duration>,
    pub(crate) buffer_ahead: Option<u64>,
    pub(crate) priority: FetchPriority,
    /// The resource is a complete cached copy that the server must confirm (with a `HEAD`).
    pub(crate) revalidate: bool,
    /// The first response decides whether the body is endless (a radio).
    pub(crate) detect_endless: bool,
}

impl FilePeer {
    pub(crate) fn new(p: PeerParts) -> (Self, oneshot::Receiver<Result<FirstResponse, Error>>) {
        let (tx, rx) = oneshot::channel();
        let state = State {
            ready: Some(tx),
            revalidate: p.revalidate.then_some(false),
            buffer_ahead: p.buffer_ahead,
            detect_endless: p.detect_endless,
            ..State::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            resource: p.resource,
            timeline: p.timeline,
            events: p.events,
        });
        let peer = Self {
            url: p.url,
            headers: p.headers,
            shared,
            cancel: p.cancel,
            seek_cursor: SignalCursor::default(),
            chunk_cursor: SignalCursor::default(),
            seek_threshold: p.seek_threshold,
            stall_timeout: p.stall_timeout,
            priority: p.priority,
            next_id: 0,
            downloaded: Arc::new(AtomicU64::new(0)),
            completed: false,
        };
        (peer, rx)
    }

    /// The state shared with the stream's source (to change the buffer-ahead budget).
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// How urgent a request for `range` is, with the reader at `reader`: what it is waiting for is
    /// urgent (so is the first request while `Stream::new` waits for its answer), reading ahead of
    /// it normal, filling gaps behind it a prefetch.
    fn priority(&self, st: &State, range: ByteRange, reader: u64) -> Priority {
        let covers_reader = range.start <= reader && range.end.is_none_or(|e| reader < e);
        if st.ready.is_some()
            || covers_reader && self.shared.resource.contiguous_end(reader).is_none()
        {
            Priority::Urgent
        } else if range.start >= reader {
            Priority::Normal
        } else {
            Priority::Prefetch
        }
    }

    fn command(&mut self, st: &mut State, range: ByteRange, reader: u64) -> FetchCmd {
        self.next_id += 1;
        let id = self.next_id;
        let token = self.cancel.child_token();
        let frontier = Arc::new(AtomicU64::new(range.start));
        let priority = self.priority.apply(self.priority(st, range, reader));
        let cmd = FetchCmd::get(self.url.clone()).with_priority(priority);
        st.active = Some(Active {
            id,
            start: range.start,
            end: range.end,
            frontier: frontier.clone(),
            cancel: token.clone(),
            priority: cmd.priority_handle(),
        });
        if range.start > 0 {
            let _ = self.shared.events.send(FileEvent::RangeRequested {
                start: range.start,
                end: range.end,
            });
        }
        tracing::debug!(id, %range, ?priority, "requesting");
        let (on_resp, on_done) = (self.shared.clone(), self.shared.clone());
        let resource = self.shared.resource.clone();
        let (events, downloaded) = (self.shared.events.clone(), self.downloaded.clone());
        let mut since_event = 0u64;
        let cmd = match self.stall_timeout {
            Some(t) => cmd.with_inactivity(t),
            None => cmd,
        };
        cmd.with_range(range)
            .with_headers(self.headers.clone())
            .with_validator(resource.validator())
            .with_expected_len(resource.len())
            .writer_blocks(resource.writes_block())
            .with_cancel(token)
            .on_response(move |info| on_resp.on_response(info))
            .writer(move |offset, data| {
                let n = data.len() as u64;
                resource.write_bytes(offset, data)?;
                frontier.store(offset + n, Ordering::Release);
                let so_far = downloaded.fetch_add(n, Ordering::Relaxed) + n;
                since_event += n;
                if since_event >= PROGRESS_EVERY {
                    since_event = 0;
                    let _ = events.send(FileEvent::Progress {
                        downloaded: so_far,
                        total: resource.len(),
                    });
                }
                Ok(())
            })
            .on_complete(move |outcome| on_done.on_complete(id, outcome))
    }

    /// A `HEAD` carrying the stored validator and length: the downloader refuses an answer of
    /// another version (`ResourceChanged`), so a clean completion confirms the cached copy.
    fn revalidation(&self) -> FetchCmd {
        let resource = &self.shared.resource;
        let (on_resp, on_done) = (self.shared.clone(), self.shared.clone());
        tracing::debug!("revalidating the cached copy");
        FetchCmd::head(self.url.clone())
            .with_headers(self.headers.clone())
            .with_priority(Priority::Urgent)
            .with_validator(resource.validator())
            .with_expected_len(resource.len())
            // A server that cannot be reached leaves the cached copy in use at once.
            .retry_connect(false)
            .with_cancel(self.cancel.child_token())
            .on_response(move |info| on_resp.on_response(info))
            .on_complete(move |outcome| on_done.on_complete(REVALIDATION, outcome))
    }

    /// Raises the running request to what the reader needs of it now: a prefetch or a read-ahead
    /// that the reader has since sought or read into (and waits for) becomes urgent, so a busy
    /// downloader cannot keep it queued behind other streams' requests. Until then the reader's
    /// reads wake the peer to look again.
    fn raise_if_waited_for(
        &mut self,
        st: &State,
        active: &Active,
        reader: u64,
        hooks: &kithara_stream::SharedHooks,
        cx: &mut Context<'_>,
    ) {
        let range = ByteRange {
            start: active.start,
            end: active.end,
        };
        let wanted = self.priority.apply(self.priority(st, range, reader));
        if active.priority.raise(wanted) {
            tracing::debug!(id = active.id, reader, priority = ?wanted, "the reader waits for the running request: raised");
        }
        if active.priority.get() < Priority::Urgent {
            // Register for the reader's next read; one that already happened means look again.
            while hooks
                .chunk
                .poll_changed(cx, &mut self.chunk_cursor)
                .is_ready()
            {
                cx.waker().wake_by_ref();
            }
        }
    }

    /// Whether the running request should give way to one starting at the reader's position.
    fn should_jump(&self, st: &State, reader: u64) -> bool {
        let Some(active) = &st.active else {
            return false;
        };
        if st.accepts_ranges != Some(true)
            || self
                .shared
                .resource
                .end_bound()
                .is_some_and(|t| reader >= t)
        {
            return false;
        }
        if self.shared.resource.contiguous_end(reader).is_some() {
            return false;
        }
        let frontier = active.frontier.load(Ordering::Acquire);
        let arriving = active.start <= reader
            && reader <= frontier.saturating_add(self.seek_threshold)
            && active.end.is_none_or(|e| reader < e);
        !arriving
    }

    /// The next range to fetch, or `None` if nothing is needed now.
    fn next_range(&self, st: &State, reader: u64) -> Option<ByteRange> {
        let resource = &self.shared.resource;
        if resource.ring_capacity().is_some() {
            // A ring keeps no bytes behind its window: never fetch before its head (that would
            // start it over and drop what the reader has not read), only onwards from the head
            // or from where the reader jumped.
            let from = resource.present_end().max(reader);
            return match resource.end_bound() {
                Some(end) if from >= end => None,
                _ => Some(ByteRange::from_start(from)),
            };
        }
        let Some(total) = resource.len() else {
            // Length unknown: continue sequentially from the reader (or the start).
            let from = if st.accepts_ranges == Some(true) {
                reader
            } else {
                0
            };
            let from = resource.contiguous_end(from).unwrap_or(from);
            if let Some(bound) = resource.end_bound().filter(|&b| from >= b) {
                // Nothing lies past the proven bound: fill what is missing before it. An open
                // request's clean end then tells the exact length.
                let gap = resource.first_gap(0..bound)?;
                return Some(ByteRange::from_start(gap.start));
            }
            return Some(match (st.buffer_ahead, st.accepts_ranges) {
                // The first request of a paced stream is a window too; its answer tells the length.
                (Some(limit), None) => {
                    ByteRange::new(from, from.saturating_add(limit.max(MIN_WINDOW)))
                }
                _ => ByteRange::from_start(from),
            });
        };
        if st.accepts_ranges != Some(true) {
            // One sequential request is all such a server allows; the downloader skips present bytes.
            return resource
                .first_gap(0..total)
                .map(|g| ByteRange::from_start(g.start));
        }
        let from = resource.contiguous_end(reader).unwrap_or(reader).min(total);
        let gap = resource
            .first_gap(from..total)
            .or_else(|| resource.first_gap(0..from))?;
        let mut end = gap.end;
        if let Some(limit) = st.buffer_ahead {
            let limit = limit.max(MIN_WINDOW);
            if gap.start >= reader {
                // Refill only once less than half the buffer is left, then up to the full buffer.
                if gap.start - reader >= limit / 2 {
                    return None;
                }
                end = end.min(
                    reader
                        .saturating_add(limit)
                        .max(gap.start.saturating_add(MIN_WINDOW)),
                );
            }
        }
        Some(ByteRange::new(gap.start, end))
    }
}

/// After a budget change: cancels the running request if it reaches beyond the new budget ahead
/// of `reader` (the bytes it brought stay; the next request follows the budget).
fn cut_beyond_budget(st: &mut State, reader: u64) {
    let Some(limit) = st.buffer_ahead else {
        return;
    };
    let budget_end = reader.saturating_add(limit.max(MIN_WINDOW));
    if st
        .active
        .as_ref()
        .is_some_and(|a| a.end.is_none_or(|e| e > budget_end))
    {
        if let Some(active) = st.active.take() {
            tracing::debug!(reader, limit, "budget lowered: cutting the running request");
            active.cancel.cancel();
        }
    }
}

impl Peer for FilePeer {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        // Register for reader seeks; the position itself comes from the timeline.
        let hooks = self.shared.timeline.hooks().clone();
        while hooks
            .seek
            .poll_changed(cx, &mut self.seek_cursor)
            .is_ready()
        {}
        let shared = self.shared.clone();
        let mut st = shared.lock();
        st.waker = Some(cx.waker().clone());
        if st.handed_over || shared.resource.failure().is_some() {
            return Poll::Ready(None);
        }
        if shared.resource.is_complete() {
            match st.revalidate {
                Some(false) => {
                    st.revalidate = Some(true);
                    return Poll::Ready(Some(vec![self.revalidation()]));
                }
                Some(true) => return Poll::Pending,
                None => {}
            }
            if st.active.is_some() {
                // The last fetch reports its outcome (and its final progress) first: woken then.
                return Poll::Pending;
            }
            if !self.completed {
                self.completed = true;
                let total = shared.resource.len().unwrap_or(0);
                tracing::debug!(total, "file complete");
                let _ = shared.events.send(FileEvent::Completed { total });
            }
            return Poll::Ready(None);
        }
        let reader = shared.timeline.position();
        if std::mem::take(&mut st.budget_changed) {
            cut_beyond_budget(&mut st, reader);
        }
        if self.should_jump(&st, reader) {
            if let Some(active) = st.active.take() {
                tracing::debug!(
                    reader,
                    from = active.start,
                    "seek outside the running request: restarting there"
                );
                active.cancel.cancel();
            }
        }
        if let Some(active) = &st.active {
            self.raise_if_waited_for(&st, active, reader, &hooks, cx);
            return Poll::Pending;
        }
        match self.next_range(&st, reader) {
            Some(range) => {
                let cmd = self.command(&mut st, range, reader);
                Poll::Ready(Some(vec![cmd]))
            }
            None => {
                // Paced and far enough ahead: wake up when the reader moves. A read since the
                // position was taken above means it already moved: look again at once.
                if st.buffer_ahead.is_some()
                    && hooks
                        .chunk
                        .poll_changed(cx, &mut self.chunk_cursor)
                        .is_ready()
                {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }

    fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    fn label(&self) -> String {
        redact_url(&self.url).to_string()
    }
}
