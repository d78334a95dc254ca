//! [`Shared`]: what a [`FilePeer`](crate::FilePeer) shares with its commands' callbacks, and what
//! responses and completions record: facts about the resource go to storage (its one owner), the
//! peer's own bookkeeping (running request, range support, `Stream::new`'s wait) stays here.

use std::sync::{atomic::AtomicU64, Arc, Mutex, MutexGuard};
use std::task::Waker;

use kithara_storage::StorageResource;
use kithara_stream::{
    dl::{FetchOutcome, PriorityHandle, ResourceEnd, ResponseInfo},
    Error, RedactedUrl, Timeline,
};
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;

use crate::events::FileEvent;

/// Command id of the `HEAD` that revalidates a complete cached copy.
pub(crate) const REVALIDATION: u64 = 0;

/// What the first response told us; `Stream::new` waits for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FirstResponse {
    pub(crate) content_type: Option<String>,
    /// The body looks endless (a radio): the open starts over as one.
    pub(crate) endless: bool,
}

pub(crate) type ReadyTx = oneshot::Sender<Result<FirstResponse, Error>>;

#[derive(Debug)]
pub(crate) struct Active {
    pub(crate) id: u64,
    pub(crate) start: u64,
    pub(crate) end: Option<u64>,
    pub(crate) frontier: Arc<AtomicU64>,
    pub(crate) cancel: CancellationToken,
    /// Raised once the reader waits for what this request brings.
    pub(crate) priority: PriorityHandle,
}

/// The peer's own bookkeeping. What the resource is (length, validator, bytes, failure) is kept
/// by storage alone.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) active: Option<Active>,
    pub(crate) accepts_ranges: Option<bool>,
    pub(crate) waker: Option<Waker>,
    pub(crate) ready: Option<ReadyTx>,
    /// A cached, complete resource whose version the server must confirm: `Some(false)` until
    /// the `HEAD` is issued, `Some(true)` while it runs.
    pub(crate) revalidate: Option<bool>,
    /// Bytes to keep downloaded ahead of the reader (`None`: the whole file); changed after the
    /// open through [`FileSource::set_buffer_ahead`](crate::FileSource::set_buffer_ahead).
    pub(crate) buffer_ahead: Option<u64>,
    /// The budget changed: a running request reaching beyond the new one is cut.
    pub(crate) budget_changed: bool,
    /// The first response decides whether the body is endless (`Endless::Auto`).
    pub(crate) detect_endless: bool,
    /// The body is endless: the open goes on as a radio and this peer stops.
    pub(crate) handed_over: bool,
}

/// State shared between the peer and its commands' callbacks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) resource: StorageResource,
    pub(crate) timeline: Timeline,
    pub(crate) events: broadcast::Sender<FileEvent>,
}

/// Whether a first response is a radio's: no length, and `icy-*` headers or an audio type
/// without range support.
fn looks_endless(info: &ResponseInfo) -> bool {
    let audio = info
        .content_type
        .as_deref()
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("audio/"));
    info.status == 200
        && info.total_len.is_none()
        && (crate::icy::has_icy_headers(&info.headers) || (audio && !info.accepts_ranges))
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn wake(state: &mut State) {
        if let Some(w) = state.waker.take() {
            w.wake();
        }
    }

    /// Records what a response says about the resource in storage, its one owner. The
    /// downloader already refused responses of another version or length.
    pub(crate) fn on_response(&self, info: &ResponseInfo) -> Result<(), Error> {
        let mut st = self.lock();
        if st.detect_endless && st.ready.is_some() && looks_endless(info) {
            // A radio: the open starts over with a ring. This request stops at its headers.
            tracing::debug!(url = %RedactedUrl::new(&info.url), "the body looks endless: reading it as a radio");
            st.handed_over = true;
            if let Some(a) = &st.active {
                a.cancel.cancel();
            }
            if let Some(tx) = st.ready.take() {
                let _ = tx.send(Ok(FirstResponse {
                    content_type: info.content_type.clone(),
                    endless: true,
                }));
            }
            return Err(Error::Cancelled);
        }
        st.detect_endless = false;
        let changed = |e: kithara_storage::Error| Error::ResourceChanged {
            url: RedactedUrl::new(&info.url),
            before: String::from("the stored bytes"),
            after: e.to_string(),
        };
        let known = self.resource.validator();
        if let (Some(known), None, 200) = (&known, &info.validator, info.status) {
            // A 200 that names no version cannot be shown to belong to the stored bytes' one
            // (`If-Range` failed, or the server ignores it): never glue it onto them.
            if self.resource.covered() > 0 {
                return Err(Error::ResourceChanged {
                    url: RedactedUrl::new(&info.url),
                    before: known.to_string(),
                    after: String::from("a response without a validator"),
                });
            }
        }
        if let Some(v) = &info.validator {
            self.resource.set_validator(v.clone()).map_err(changed)?;
            if known.is_some() {
                // The downloader refused another version before we got here: this one is ours.
                self.resource.mark_validated();
            }
        }
        self.resource.set_content_type(info.content_type.clone());
        if let Some(total) = info.total_len {
            self.resource.set_len(total).map_err(changed)?;
        }
        if st.accepts_ranges != Some(true) {
            st.accepts_ranges = Some(info.status == 206 || info.accepts_ranges);
        }
        if let Some(tx) = st.ready.take() {
            let _ = tx.send(Ok(FirstResponse {
                content_type: info.content_type.clone(),
                endless: false,
            }));
        }
        Self::wake(&mut st);
        Ok(())
    }

    pub(crate) fn on_complete(&self, id: u64, outcome: FetchOutcome) {
        let mut st = self.lock();
        if id == REVALIDATION {
            st.revalidate = None;
            if let FetchOutcome::Failed(e) = outcome {
                // The cached copy stays readable; `Stream::new` reports the failure as an event.
                tracing::warn!(error = %e, "revalidation of the cached copy failed");
                if let Some(tx) = st.ready.take() {
                    let _ = tx.send(Err(e));
                }
            }
            Self::wake(&mut st);
            return;
        }
        if st.active.as_ref().is_some_and(|a| a.id == id) {
            st.active = None;
        }
        match outcome {
            FetchOutcome::Completed { resource_end, .. } => {
                let recorded = match resource_end {
                    ResourceEnd::Exact(len) => self.resource.set_len(len),
                    ResourceEnd::AtMost(bound) => self.resource.set_len_at_most(bound),
                    _ => Ok(()),
                };
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "the server's end conflicts with stored bytes");
                    self.fail(&mut st, Error::from(e));
                } else {
                    let _ = self.events.send(FileEvent::Progress {
                        downloaded: self.resource.covered(),
                        total: self.resource.len(),
                    });
                }
            }
            FetchOutcome::Failed(e) => self.fail(&mut st, e),
            // Cancelled by us (a seek) or by the stream going away: nothing to record.
            _ => {}
        }
        Self::wake(&mut st);
    }

    /// Fails the resource: reads of missing bytes get `e`, and `Stream::new` too if still waiting.
    pub(crate) fn fail(&self, st: &mut State, e: Error) {
        if self.resource.is_complete() {
            // Every byte is here (a cached copy): nothing a reader needs is lost.
            tracing::warn!(error = %e, "request for a complete resource failed");
            if let Some(tx) = st.ready.take() {
                let _ = tx.send(Err(e));
            }
            return;
        }
        self.resource.fail(Arc::new(e.clone()));
        if let Some(tx) = st.ready.take() {
            let _ = tx.send(Err(e.clone()));
        }
        let _ = self.events.send(FileEvent::Failed(e));
    }
}
