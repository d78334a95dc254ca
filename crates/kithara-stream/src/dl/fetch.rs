//! [`FetchCmd`]: one HTTP request a peer asks the downloader to perform, with its callbacks.
//!
//! A command is self-contained: the downloader performs it (with retries) and reports through its
//! closures, never through the peer object. `on_complete` is called exactly once: with the outcome
//! when the downloader finishes, or with [`FetchOutcome::Cancelled`] from `Drop` if the command is
//! dropped unfinished (cancelled before it started, the peer gone, the task aborted).

use std::{fmt, ops::Range};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use kithara_storage::Validator;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::promote::PriorityHandle;
use crate::error::Error;

/// A byte range of a resource; `end` is exclusive and `None` means "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte, or `None` for an open range.
    pub end: Option<u64>,
}

impl ByteRange {
    /// Bytes `start..end`.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            end: Some(end),
        }
    }

    /// Bytes from `start` to the end of the resource.
    pub fn from_start(start: u64) -> Self {
        Self { start, end: None }
    }

    /// Number of bytes, if bounded.
    pub fn len(&self) -> Option<u64> {
        self.end.map(|e| e.saturating_sub(self.start))
    }

    /// Whether the range is bounded and empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The `Range` header value (`bytes=a-b` with an inclusive end, or `bytes=a-`).
    pub fn header_value(&self) -> String {
        match self.end {
            Some(end) => format!("bytes={}-{}", self.start, end.saturating_sub(1)),
            None => format!("bytes={}-", self.start),
        }
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(end) => write!(f, "{}..{}", self.start, end),
            None => write!(f, "{}..", self.start),
        }
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(r: Range<u64>) -> Self {
        Self::new(r.start, r.end)
    }
}

impl From<std::ops::RangeFrom<u64>> for ByteRange {
    fn from(r: std::ops::RangeFrom<u64>) -> Self {
        Self::from_start(r.start)
    }
}

/// The HTTP method of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchMethod {
    /// GET: headers, then the body through the writer.
    Get,
    /// HEAD: headers only.
    Head,
}

/// How urgently a command should run. Queued commands start in priority order, across all peers
/// of a downloader and within one peer; equal priorities start in the order they were queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum Priority {
    /// Bytes nobody waits for yet: read-ahead, the next track, gap filling. Prefetches never hold
    /// every slot of a pool larger than one, so read-ahead alone never keeps a reader's request
    /// waiting. A peer raises a queued prefetch once its reader waits for it
    /// ([`PriorityHandle`](super::PriorityHandle)).
    Prefetch,
    /// Ordinary sequential downloading.
    #[default]
    Normal,
    /// What a blocked reader waits for, playlists and keys. Starts before anything queued and
    /// is not held back by its peer's in-flight limit.
    Urgent,
}

/// What a response said about the resource, reported to `on_response` before any body byte.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResponseInfo {
    /// Status code (200 or 206 for a GET that goes on to deliver bytes).
    pub status: u16,
    /// Final URL after redirects.
    pub url: Url,
    /// Absolute offset of the first byte the writer will receive.
    pub offset: u64,
    /// Total length of the resource, if the response tells it (`Content-Range` total, or
    /// `Content-Length` of a full 200; read from the header, so HEAD works too).
    pub total_len: Option<u64>,
    /// Whether the server honoured the `Range` header (206), or `Accept-Ranges: bytes` on a 200.
    pub accepts_ranges: bool,
    /// The `ETag` and `Last-Modified` headers, if either was sent.
    pub validator: Option<Validator>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// Every response header, for what the named fields do not cover (a radio's `icy-*`).
    pub headers: HeaderMap,
}

/// What a finished command proved about where the resource ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceEnd {
    /// Nothing (a bounded range inside a resource of unknown length).
    Unknown,
    /// The resource is exactly this long (a total in the response, or an open range whose body
    /// ended cleanly).
    Exact(u64),
    /// The resource ends at this offset at the latest: the server refused a range starting
    /// there (416) without saying the length.
    AtMost(u64),
}

/// How a command ended; delivered once to `on_complete`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FetchOutcome {
    /// The request finished: every byte of the range (or of the body) reached the writer.
    Completed {
        /// Body bytes delivered to the writer over all attempts.
        bytes: u64,
        /// Absolute offset just past the last byte delivered.
        end: u64,
        /// What the responses proved about the resource's end.
        resource_end: ResourceEnd,
    },
    /// The request failed for good (after retries where retrying made sense).
    Failed(Error),
    /// The command's token (or its peer's, or the downloader's) was cancelled, or it was dropped.
    Cancelled,
}

pub(crate) type Writer = Box<dyn FnMut(u64, Bytes) -> Result<(), Error> + Send>;
pub(crate) type ResponseHook = Box<dyn FnMut(&ResponseInfo) -> Result<(), Error> + Send>;
pub(crate) type CompleteHook = Box<dyn FnOnce(FetchOutcome) + Send>;

/// One HTTP request with its callbacks and cancellation token.
///
/// ```
/// use kithara_stream::dl::{FetchCmd, FetchOutcome};
/// # let url = url::Url::parse("http://127.0.0.1:1/a.mp3").unwrap();
/// let cmd = FetchCmd::get(url)
///     .with_range(1024..)
///     .writer(|offset, bytes: bytes::Bytes| {
///         // land `bytes` at absolute `offset`
///         Ok(())
///     })
///     .on_complete(|outcome: FetchOutcome| { /* advance the peer's state */ });
/// ```
pub struct FetchCmd {
    method: FetchMethod,
    url: Url,
    range: Option<ByteRange>,
    headers: HeaderMap,
    priority: PriorityHandle,
    purpose: super::FetchPurpose,
    validator: Option<Validator>,
    expected_len: Option<u64>,
    writer_blocks: bool,
    connect_retries: bool,
    max_attempts: Option<u32>,
    inactivity: Option<std::time::Duration>,
    pub(crate) writer: Option<Writer>,
    pub(crate) on_response: Option<ResponseHook>,
    on_complete: Option<CompleteHook>,
    cancel: CancellationToken,
}

impl fmt::Debug for FetchCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchCmd")
            .field("method", &self.method)
            .field("url", &crate::error::redact_url(&self.url).as_str())
            .field("range", &self.range)
            .field("priority", &self.priority.get())
            .finish_non_exhaustive()
    }
}

impl FetchCmd {
    fn new(method: FetchMethod, url: Url) -> Self {
        Self {
            method,
            url,
            range: None,
            headers: HeaderMap::new(),
            priority: PriorityHandle::new(Priority::Normal),
            purpose: super::FetchPurpose::Media,
            validator: None,
            expected_len: None,
            writer_blocks: false,
            connect_retries: true,
            max_attempts: None,
            inactivity: None,
            writer: None,
            on_response: None,
            on_complete: None,
            cancel: CancellationToken::new(),
        }
    }

    /// A GET of `url`.
    pub fn get(url: Url) -> Self {
        Self::new(FetchMethod::Get, url)
    }

    /// A HEAD of `url`.
    pub fn head(url: Url) -> Self {
        Self::new(FetchMethod::Head, url)
    }

    /// Requests only `range` (sent as a `Range` header).
    #[must_use]
    pub fn with_range(mut self, range: impl Into<ByteRange>) -> Self {
        self.range = Some(range.into());
        self
    }

    /// Adds a request header.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds request headers.
    #[must_use]
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Sets the priority (default [`Priority::Normal`]).
    #[must_use]
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = PriorityHandle::new(priority);
        self
    }

    /// What is fetched (default media bytes); its throughput samples carry it.
    #[must_use]
    pub fn with_purpose(mut self, purpose: super::FetchPurpose) -> Self {
        self.purpose = purpose;
        self
    }

    /// The version the bytes must belong to (from storage, when earlier bytes are kept). Ranged
    /// requests carry it in `If-Range`; a response of another version fails the command with
    /// [`Error::ResourceChanged`] instead of mixing versions.
    #[must_use]
    pub fn with_validator(mut self, validator: Option<Validator>) -> Self {
        self.validator = validator;
        self
    }

    /// The resource's known total length: a response that says otherwise fails the command with
    /// [`Error::ResourceChanged`].
    #[must_use]
    pub fn with_expected_len(mut self, len: Option<u64>) -> Self {
        self.expected_len = len;
        self
    }

    /// Declares that the writer does blocking I/O (file storage). The downloader then runs it on
    /// a blocking thread, handing chunks over with back-pressure, so a slow disk never stalls the
    /// async workers that every other stream shares.
    #[must_use]
    pub fn writer_blocks(mut self, blocks: bool) -> Self {
        self.writer_blocks = blocks;
        self
    }

    /// Whether a connection that cannot be made (refused, unreachable, no route) is retried with
    /// the downloader's backoff. Default: true. A request with a local fallback (revalidating a
    /// cached copy) turns it off so that an offline server costs one attempt, not the whole retry
    /// budget; 5xx, resets and truncated bodies are retried either way.
    #[must_use]
    pub fn retry_connect(mut self, retry: bool) -> Self {
        self.connect_retries = retry;
        self
    }

    /// At most this many attempts (at least 1) without progress, instead of the downloader's
    /// retry policy. An endless body (a radio) takes 1: a resumed request could not continue
    /// its bytes, so its peer reconnects by itself, marking the gap.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// The attempts allowed by [`with_max_attempts`](Self::with_max_attempts), if set.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// How long the server may send nothing (no headers, no body byte) before the attempt fails
    /// with [`Error::Inactivity`], instead of the downloader's `inactivity_timeout`: the stall
    /// watchdog of one stream.
    #[must_use]
    pub fn with_inactivity(mut self, timeout: std::time::Duration) -> Self {
        self.inactivity = Some(timeout);
        self
    }

    /// The inactivity timeout set by [`with_inactivity`](Self::with_inactivity), if any.
    pub fn inactivity(&self) -> Option<std::time::Duration> {
        self.inactivity
    }

    /// Whether a connect error is retried (see [`retry_connect`](Self::retry_connect)).
    pub fn retries_connect(&self) -> bool {
        self.connect_retries
    }

    /// Sets the cancellation token; make it a child of the peer's token.
    #[must_use]
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Sets the closure called with each body chunk and its absolute offset, in order, on the
    /// runtime (or, with [`writer_blocks`](Self::writer_blocks), on a blocking thread). The chunk
    /// is the HTTP client's own buffer (`Bytes`), so storage can keep it without copying. Keep the
    /// closure short; an error aborts the command with [`Error::Write`].
    #[must_use]
    pub fn writer(
        mut self,
        f: impl FnMut(u64, Bytes) -> Result<(), Error> + Send + 'static,
    ) -> Self {
        self.writer = Some(Box::new(f));
        self
    }

    /// Sets the closure called with each response's facts before its first body byte (once per
    /// attempt). Returning an error rejects the response: the command fails at once, without
    /// retries, with that error.
    #[must_use]
    pub fn on_response(
        mut self,
        f: impl FnMut(&ResponseInfo) -> Result<(), Error> + Send + 'static,
    ) -> Self {
        self.on_response = Some(Box::new(f));
        self
    }

    /// Sets the closure called exactly once with the command's outcome.
    #[must_use]
    pub fn on_complete(mut self, f: impl FnOnce(FetchOutcome) + Send + 'static) -> Self {
        self.on_complete = Some(Box::new(f));
        self
    }

    /// The method.
    pub fn method(&self) -> FetchMethod {
        self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The requested range, if any.
    pub fn range(&self) -> Option<ByteRange> {
        self.range
    }

    /// Extra request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The priority now (it may have been raised since the command was built).
    pub fn priority(&self) -> Priority {
        self.priority.get()
    }

    /// A handle to raise this command's priority after it is issued, e.g. once the reader blocks
    /// on the bytes it brings. Keep it beside the peer's record of the command.
    pub fn priority_handle(&self) -> PriorityHandle {
        self.priority.clone()
    }

    /// What is fetched.
    pub fn purpose(&self) -> super::FetchPurpose {
        self.purpose
    }

    /// The version the bytes must belong to, if known.
    pub fn validator(&self) -> Option<&Validator> {
        self.validator.as_ref()
    }

    /// The known total length, if any.
    pub fn expected_len(&self) -> Option<u64> {
        self.expected_len
    }

    /// Whether the writer does blocking I/O.
    pub fn is_writer_blocking(&self) -> bool {
        self.writer_blocks
    }

    /// The command's cancellation token.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs `observer` just before the command's own `on_complete`, with the same outcome.
    pub(crate) fn observe_completion(
        &mut self,
        observer: impl FnOnce(&FetchOutcome) + Send + 'static,
    ) {
        let inner = self.on_complete.take();
        self.on_complete = Some(Box::new(move |outcome| {
            observer(&outcome);
            if let Some(f) = inner {
                f(outcome);
            }
        }));
    }

    /// Reports the outcome; later calls (and `Drop`) do nothing.
    pub(crate) fn complete(&mut self, outcome: FetchOutcome) {
        if let Some(f) = self.on_complete.take() {
            f(outcome);
        }
    }
}

impl Drop for FetchCmd {
    fn drop(&mut self) {
        self.complete(FetchOutcome::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    use super::*;

    #[test]
    fn completion_is_exactly_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let mut cmd =
            FetchCmd::get(Url::parse("http://127.0.0.1/x").unwrap()).on_complete(move |o| {
                assert!(matches!(
                    o,
                    FetchOutcome::Completed {
                        bytes: 3,
                        end: 3,
                        ..
                    }
                ));
                c.fetch_add(1, Ordering::SeqCst);
            });
        cmd.complete(FetchOutcome::Completed {
            bytes: 3,
            end: 3,
            resource_end: ResourceEnd::Exact(3),
        });
        cmd.complete(FetchOutcome::Cancelled);
        drop(cmd);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn dropping_unfinished_reports_cancelled() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        drop(
            FetchCmd::head(Url::parse("http://127.0.0.1/x").unwrap()).on_complete(move |o| {
                assert!(matches!(o, FetchOutcome::Cancelled));
                c.fetch_add(1, Ordering::SeqCst);
            }),
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn range_header() {
        assert_eq!(ByteRange::new(10, 20).header_value(), "bytes=10-19");
        assert_eq!(ByteRange::from(5..).header_value(), "bytes=5-");
        assert_eq!(ByteRange::new(3, 3).len(), Some(0));
    }
}
