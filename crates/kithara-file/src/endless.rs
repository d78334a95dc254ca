//! The download side of an endless stream (internet radio): [`RadioPeer`] keeps one connection
//! running, strips ICY blocks before any byte reaches storage, and reconnects when the connection
//! drops or stalls.
//!
//! Each connection is one command with a single attempt (a resumed request could not continue an
//! endless body: the station sends what is live now) and the configured inactivity timeout (the
//! stall watchdog: the downloader's own, per command). When it ends, for any reason but the
//! stream going away, the place where its bytes stop becomes a gap: a
//! [`BoundaryKind::Discontinuity`] boundary there (a decoder starts over) and one
//! [`FileEvent::Gap`]; the next connection's audio is appended after it. The audio the station
//! sent meanwhile is simply missed. After [`RadioConfig::reconnects`] connections in a row that
//! brought no byte the stream fails with [`Error::RadioGaveUp`].

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, OnceLock,
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use http::HeaderMap;
use kithara_storage::{StorageKind, StorageResource};
use kithara_stream::{
    dl::{FetchCmd, FetchOutcome, Peer, ResponseInfo},
    redact_url, Boundary, BoundaryKind, Error, MarkAt, MediaInfo, MetadataMark, MetadataMarks,
    NowPlaying, RedactedUrl, StationInfo,
};
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    icy::{self, IcyStripper, Stripped},
    FileEvent, RadioConfig,
};

/// Boundaries kept (the oldest go first; a ring keeps no more history than this anyway).
const BOUNDARIES_KEPT: usize = 64;

/// What the first response said; the open waits for it.
#[derive(Debug, Clone)]
pub(crate) struct RadioOpened {
    pub(crate) content_type: Option<String>,
}

/// The peer's bookkeeping.
#[derive(Debug, Default)]
struct State {
    active: Option<CancellationToken>,
    waker: Option<Waker>,
    ready: Option<oneshot::Sender<Result<RadioOpened, Error>>>,
    /// Connections in a row that brought no byte.
    failures: u32,
    /// Wait this long before the next connection.
    retry_after: Option<Duration>,
    last_title: Option<String>,
    last_gap: Option<u64>,
    gave_up: bool,
}

/// What the radio's peer shares with its commands' callbacks and the source.
#[derive(Debug)]
pub(crate) struct RadioShared {
    url: Url,
    config: RadioConfig,
    /// An explicitly configured ring (`StorageKind::Ring`); else sized from `icy-br`.
    ring: Option<(u64, u64)>,
    /// Created when the first response tells the bitrate.
    resource: OnceLock<StorageResource>,
    station: OnceLock<StationInfo>,
    marks: MetadataMarks,
    boundaries: Mutex<VecDeque<Boundary>>,
    media_info: Mutex<Option<MediaInfo>>,
    events: broadcast::Sender<FileEvent>,
    state: Mutex<State>,
}

/// One connection: the stripper of its body and where its next audio byte goes. Only its
/// response hook and its writer lock it (one after the other); the writer holds it while a full
/// ring makes it wait, so the completion reads `delivered` without it.
struct Conn {
    stripper: Option<IcyStripper>,
    head: u64,
    delivered: Arc<AtomicU64>,
}

impl RadioShared {
    pub(crate) fn new(
        url: Url,
        config: RadioConfig,
        storage: Option<&StorageKind>,
        events: broadcast::Sender<FileEvent>,
        ready: oneshot::Sender<Result<RadioOpened, Error>>,
    ) -> Self {
        let ring = match storage {
            Some(StorageKind::Ring {
                capacity,
                keep_behind,
            }) => Some((*capacity, *keep_behind)),
            _ => None,
        };
        Self {
            url,
            config,
            ring,
            resource: OnceLock::new(),
            station: OnceLock::new(),
            marks: MetadataMarks::default(),
            boundaries: Mutex::new(VecDeque::new()),
            media_info: Mutex::new(None),
            events,
            state: Mutex::new(State {
                ready: Some(ready),
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(st: &mut State) {
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }

    /// The ring, once the first response created it.
    pub(crate) fn resource(&self) -> Option<&StorageResource> {
        self.resource.get()
    }

    /// What the station's headers said.
    pub(crate) fn station(&self) -> Option<&StationInfo> {
        self.station.get()
    }

    /// The format facts that hold after every gap (the open's).
    pub(crate) fn set_media_info(&self, info: Option<MediaInfo>) {
        *self.media_info.lock().unwrap_or_else(|p| p.into_inner()) = info;
    }

    pub(crate) fn marks_since(&self, from: u64) -> Vec<MetadataMark> {
        self.marks.since(from)
    }

    pub(crate) fn next_boundary(&self, from: u64) -> Option<Boundary> {
        let b = self.boundaries.lock().unwrap_or_else(|p| p.into_inner());
        b.iter().find(|b| b.pos >= from).cloned()
    }

    fn on_response(&self, info: &ResponseInfo, conn: &Mutex<Conn>) -> Result<(), Error> {
        let station = self
            .station
            .get_or_init(|| icy::station_info(&info.headers));
        let resource = self.resource.get_or_init(|| {
            let (capacity, behind) = self
                .ring
                .unwrap_or_else(|| self.config.ring_bytes(station.bitrate_kbps));
            tracing::debug!(capacity, behind, "radio ring");
            StorageResource::ring_with(capacity, behind)
        });
        let metaint = if self.config.icy {
            icy::metaint(&info.headers)
        } else {
            0
        };
        let head = resource.present_end();
        {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            c.stripper = IcyStripper::new(metaint);
            c.head = head;
        }
        let mut st = self.lock();
        if let Some(tx) = st.ready.take() {
            if !station.is_empty() {
                let _ = self.events.send(FileEvent::Station(station.clone()));
            }
            let _ = tx.send(Ok(RadioOpened {
                content_type: info.content_type.clone(),
            }));
        }
        tracing::debug!(head, metaint, "radio connected");
        Ok(())
    }

    /// Strips one network chunk, records its titles, appends its audio.
    fn write(&self, conn: &Mutex<Conn>, data: Bytes) -> Result<(), Error> {
        let Some(resource) = self.resource.get() else {
            return Err(Error::Cancelled);
        };
        let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
        let out = match c.stripper.as_mut() {
            Some(s) => s.feed(data),
            None => Stripped {
                audio: data,
                blocks: Vec::new(),
            },
        };
        for (at, block) in out.blocks {
            if let Some(np) = icy::parse_block(&block) {
                self.title(c.head.saturating_add(at as u64), np);
            }
        }
        let n = out.audio.len() as u64;
        if n > 0 {
            resource.write_bytes(c.head, out.audio)?;
            c.head = c.head.saturating_add(n);
            c.delivered.fetch_add(n, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Records a title change (only a change: stations repeat the title, and a reconnect sends it
    /// again) at the first audio byte after its block.
    fn title(&self, at: u64, np: NowPlaying) {
        let mut st = self.lock();
        if np.title.is_none() || np.title == st.last_title {
            return;
        }
        st.last_title.clone_from(&np.title);
        drop(st);
        tracing::debug!(at, title = ?np.title, "now playing");
        self.marks.push(MarkAt::Byte(at), np.clone());
        let _ = self.events.send(FileEvent::NowPlaying {
            at,
            now_playing: np,
        });
    }

    fn on_complete(&self, outcome: FetchOutcome, delivered: u64, stream: &CancellationToken) {
        let mut st = self.lock();
        st.active = None;
        let cause = match outcome {
            _ if stream.is_cancelled() => return,
            FetchOutcome::Cancelled => return,
            FetchOutcome::Failed(e) => Some(e),
            _ => None,
        };
        if delivered > 0 {
            st.failures = 0;
        } else {
            st.failures = st.failures.saturating_add(1);
        }
        let never_opened = st.ready.is_some();
        if never_opened && cause.as_ref().is_some_and(Error::is_status)
            || st.failures > self.config.reconnects
        {
            self.give_up(&mut st, cause);
            return;
        }
        tracing::warn!(error = ?cause.as_ref().map(ToString::to_string), failures = st.failures, "radio connection ended: reconnecting");
        if let Some(resource) = self.resource.get() {
            let at = resource.present_end();
            if at > 0 && st.last_gap != Some(at) {
                st.last_gap = Some(at);
                self.gap(at, cause);
            }
        }
        st.retry_after = Some(self.config.backoff_for(st.failures.max(1)));
        Self::wake(&mut st);
    }

    /// A gap at `at`: a discontinuity there, and one event.
    fn gap(&self, at: u64, cause: Option<Error>) {
        let info = *self.media_info.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut b = self.boundaries.lock().unwrap_or_else(|p| p.into_inner());
            if b.len() == BOUNDARIES_KEPT {
                b.pop_front();
            }
            b.push_back(Boundary::new(at, BoundaryKind::Discontinuity).with_media_info(info));
        }
        let _ = self.events.send(FileEvent::Gap {
            at,
            lost_bytes: None,
            cause,
        });
    }

    fn give_up(&self, st: &mut State, cause: Option<Error>) {
        st.gave_up = true;
        let err = match (&cause, st.ready.is_some()) {
            // A station that answers 404 at once: the status itself.
            (Some(e), true) if e.is_status() => e.clone(),
            _ => Error::from(crate::Error::RadioGaveUp {
                url: RedactedUrl::new(&self.url),
                attempts: st.failures,
                last: cause.map(Box::new),
            }),
        };
        tracing::error!(error = %err, "radio: giving up");
        if let Some(r) = self.resource.get() {
            r.fail(Arc::new(err.clone()));
        }
        if let Some(tx) = st.ready.take() {
            let _ = tx.send(Err(err.clone()));
        }
        let _ = self.events.send(FileEvent::Failed(err));
        Self::wake(st);
    }
}

/// The download policy of an endless stream. See the module docs.
pub(crate) struct RadioPeer {
    shared: Arc<RadioShared>,
    headers: HeaderMap,
    cancel: CancellationToken,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl std::fmt::Debug for RadioPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadioPeer")
            .field("url", &redact_url(&self.shared.url).as_str())
            .finish_non_exhaustive()
    }
}

impl RadioPeer {
    pub(crate) fn new(
        shared: Arc<RadioShared>,
        headers: HeaderMap,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            shared,
            headers,
            cancel,
            sleep: None,
        }
    }

    fn command(&self, st: &mut State) -> FetchCmd {
        let token = self.cancel.child_token();
        st.active = Some(token.clone());
        let delivered = Arc::new(AtomicU64::new(0));
        let conn = Arc::new(Mutex::new(Conn {
            stripper: None,
            head: 0,
            delivered: delivered.clone(),
        }));
        let (on_resp, on_write, on_done) = (
            self.shared.clone(),
            self.shared.clone(),
            self.shared.clone(),
        );
        let (c1, c2) = (conn.clone(), conn);
        let stream = self.cancel.clone();
        FetchCmd::get(self.shared.url.clone())
            .with_headers(self.headers.clone())
            .with_max_attempts(1)
            .with_inactivity(self.shared.config.stall_timeout)
            .writer_blocks(true)
            .with_cancel(token)
            .on_response(move |info| on_resp.on_response(info, &c1))
            .writer(move |_offset, data| on_write.write(&c2, data))
            .on_complete(move |outcome| {
                on_done.on_complete(outcome, delivered.load(Ordering::Relaxed), &stream);
            })
    }
}

impl Peer for RadioPeer {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        st.waker = Some(cx.waker().clone());
        let dead = shared
            .resource()
            .is_some_and(|r| r.is_cancelled() || r.failure().is_some());
        if st.gave_up || dead {
            return Poll::Ready(None);
        }
        if st.active.is_some() {
            return Poll::Pending;
        }
        if let Some(d) = st.retry_after.take() {
            self.sleep = Some(Box::pin(tokio::time::sleep(d)));
        }
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let cmd = self.command(&mut st);
        Poll::Ready(Some(vec![cmd]))
    }

    fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    fn label(&self) -> String {
        redact_url(&self.shared.url).to_string()
    }
}
