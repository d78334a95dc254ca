//! Request log, server counters and the machinery to wait on them.
//!
//! All mutable server state that tests observe lives in [`Shared`]: one mutex
//! guards the request records and the [`ServerStats`]; every change notifies a
//! [`Condvar`] (for the blocking `wait_until`) and bumps a
//! [`tokio::sync::watch`] version (for `wait_until_async`).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::server::ServerStats;

/// One request the server received, and what it did with it.
///
/// Records are created when the request arrives (before any configured
/// latency) and updated live while the response body streams.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestRecord {
    /// Sequence number of the request, starting at 1 (never reused, not reset by `clear_log`).
    pub id: u64,
    /// When the request arrived.
    pub at: Instant,
    /// Sequence number of the TCP connection the request came in on, starting at 1.
    pub connection: u64,
    /// Request method.
    pub method: http::Method,
    /// Request path, without the query string.
    pub path: String,
    /// Raw `Range` header, if any.
    pub range: Option<String>,
    /// Raw `If-Range` header, if any.
    pub if_range: Option<String>,
    /// Status code of the response.
    pub status: u16,
    /// Offset (in the route's body) of the first body byte served: the range
    /// start for a 206, 0 otherwise.
    pub body_start: u64,
    /// Body bytes handed to hyper for this response so far (updated live).
    pub bytes_sent: u64,
    /// How the response ended; `None` while it is still in flight.
    pub end: Option<ResponseEnd>,
    /// For a radio route: the `icy-metaint` of the metadata blocks interleaved in the body
    /// (`None`: plain audio, the request did not ask with `Icy-MetaData: 1`).
    pub icy_metaint: Option<u64>,
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseEnd {
    /// The whole response (headers and body) was handed to hyper.
    Completed,
    /// The response (or its body) was dropped before it finished: the client
    /// closed the connection or cancelled the request.
    ClientGone,
    /// The server injected a fault (reset, short body, wrong length) into it.
    Fault,
}

/// Everything guarded by the [`Shared`] mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) records: Vec<RequestRecord>,
    pub(crate) stats: ServerStats,
    next_id: u64,
}

impl State {
    fn record_mut(&mut self, id: u64) -> Option<&mut RequestRecord> {
        let idx = self.records.binary_search_by_key(&id, |r| r.id).ok()?;
        self.records.get_mut(idx)
    }
}

/// The observable server state plus change notification.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    version: tokio::sync::watch::Sender<u64>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            changed: Condvar::new(),
            version: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// What the request handler knows about a request when it logs it.
#[derive(Debug)]
pub(crate) struct NewRecord {
    pub(crate) connection: u64,
    pub(crate) method: http::Method,
    pub(crate) path: String,
    pub(crate) range: Option<String>,
    pub(crate) if_range: Option<String>,
    pub(crate) status: u16,
    pub(crate) body_start: u64,
    pub(crate) icy_metaint: Option<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mutates the state under the lock, then wakes every waiter.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.lock());
        self.changed.notify_all();
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        r
    }

    /// Runs `f` on a consistent view of the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Counts a newly accepted connection and returns its id.
    pub(crate) fn connection_opened(&self) -> u64 {
        self.update(|s| {
            let st = &mut s.stats;
            st.connections_accepted += 1;
            st.connections_open += 1;
            st.max_connections_open = st.max_connections_open.max(st.connections_open);
            st.connections_accepted
        })
    }

    /// Counts a connection whose serve future ended (or was dropped).
    pub(crate) fn connection_closed(&self) {
        self.update(|s| s.stats.connections_open = s.stats.connections_open.saturating_sub(1));
    }

    /// Logs a request and counts its response as in flight; returns its id.
    pub(crate) fn request_started(&self, new: NewRecord) -> u64 {
        self.update(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.records.push(RequestRecord {
                id,
                at: Instant::now(),
                connection: new.connection,
                method: new.method,
                path: new.path,
                range: new.range,
                if_range: new.if_range,
                status: new.status,
                body_start: new.body_start,
                bytes_sent: 0,
                end: None,
                icy_metaint: new.icy_metaint,
            });
            let st = &mut s.stats;
            st.responses_in_flight += 1;
            st.max_responses_in_flight = st.max_responses_in_flight.max(st.responses_in_flight);
            id
        })
    }

    /// Adds `n` body bytes to the response `id` and to the totals.
    pub(crate) fn bytes_sent(&self, id: u64, n: u64) {
        self.update(|s| {
            s.stats.bytes_sent += n;
            if let Some(r) = s.record_mut(id) {
                r.bytes_sent += n;
            }
        });
    }

    /// Marks the response `id` as ended.
    pub(crate) fn response_ended(&self, id: u64, end: ResponseEnd) {
        self.update(|s| {
            s.stats.responses_in_flight = s.stats.responses_in_flight.saturating_sub(1);
            if let Some(r) = s.record_mut(id) {
                r.end = Some(end);
            }
        });
    }

    pub(crate) fn clear_log(&self) {
        self.update(|s| s.records.clear());
    }

    /// Blocks until `pred` holds or `timeout` passes.
    pub(crate) fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&[RequestRecord], &ServerStats) -> bool,
    ) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.lock();
        loop {
            if pred(&guard.records, &guard.stats) {
                return true;
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
                // "Forever": wait in long slices, re-checking on every wake-up.
                None => Duration::from_secs(3600),
            };
            guard = self
                .changed
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Async twin of [`Shared::wait_until`].
    pub(crate) async fn wait_until_async(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&[RequestRecord], &ServerStats) -> bool,
    ) -> bool {
        let mut rx = self.version.subscribe();
        let wait = async {
            loop {
                // Mark the current version seen *before* checking, so that a
                // change racing with the check still wakes us up.
                rx.borrow_and_update();
                let ok = self.read(|s| pred(&s.records, &s.stats));
                if ok {
                    return true;
                }
                if rx.changed().await.is_err() {
                    // Sender gone: the state can no longer change.
                    return self.read(|s| pred(&s.records, &s.stats));
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }
}
