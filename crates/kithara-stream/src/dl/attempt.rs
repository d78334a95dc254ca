//! Performing one command over HTTP: the retry loop around single attempts.
//!
//! Each attempt asks for the bytes not yet delivered ([`request`](super::request)), classifies
//! the answer by status ([`classify`](super::classify)), checks it belongs to the version and
//! range asked for ([`validate`](super::validate)) and hands its body to the writer
//! ([`body`](super::body)). Connect errors, resets, truncated bodies, inactivity, 408, 429 and 5xx
//! are retried with backoff (honouring `Retry-After`); other failures end the command at once.
//! Every attempt, whatever the server answers, goes through this loop and its budget.

use std::{
    future::Future,
    pin::Pin,
    time::{Duration, Instant},
};

use kithara_storage::Validator;
use tokio::{sync::mpsc, time::timeout};

use super::{
    body::Body,
    classify::{classify, Class},
    downloader::Inner,
    fetch::{FetchMethod, ResourceEnd, ResponseInfo},
    peer::{PeerState, ThroughputSample},
    request,
    response::{response_info, transport},
    validate::validate,
    FetchCmd, FetchOutcome,
};
use crate::error::{Error, RedactedUrl};

/// Why one attempt stopped.
pub(super) enum Stop {
    Cancelled,
    Fatal(Error),
    Retry {
        error: Error,
        retry_after: Option<Duration>,
    },
}

impl Stop {
    pub(super) fn retry(error: Error) -> Self {
        Self::Retry {
            error,
            retry_after: None,
        }
    }
}

/// Progress of a command across attempts.
pub(super) struct Progress {
    /// Absolute offset of the next byte to deliver.
    pub(super) next: u64,
    /// Bytes delivered over all attempts.
    pub(super) delivered: u64,
    /// Validators of the first response, to detect a changed resource on resume.
    pub(super) validator: Option<Validator>,
    /// Total length told by an earlier response.
    pub(super) total: Option<u64>,
    /// When the current attempt's request was sent, and when its headers arrived.
    pub(super) sent: Option<Instant>,
    pub(super) ttfb: Option<Duration>,
}

/// An attempt cut short reports its throughput when it delivered at least this much.
const PARTIAL_SAMPLE_MIN: u64 = 64 * 1024;

pub(crate) async fn execute(
    inner: &Inner,
    cmd: &mut FetchCmd,
    state: &PeerState,
    samples: &mpsc::UnboundedSender<ThroughputSample>,
    mut cancelled: Pin<&mut impl Future<Output = ()>>,
) -> FetchOutcome {
    let client = inner.client.clone();
    let policy = &inner.config.retry;
    let url = RedactedUrl::new(cmd.url());
    let mut progress = Progress {
        next: cmd.range().map_or(0, |r| r.start),
        delivered: 0,
        validator: None,
        total: None,
        sent: None,
        ttfb: None,
    };
    // Reports the throughput of the attempt that delivered `bytes` (complete or cut short).
    let purpose = cmd.purpose();
    let report = |progress: &Progress, bytes: u64, complete: bool| {
        let Some(sent) = progress.sent else { return };
        if bytes == 0 || (!complete && bytes < PARTIAL_SAMPLE_MIN) {
            return;
        }
        let mut s = ThroughputSample::new(bytes, sent.elapsed()).with_purpose(purpose);
        if let Some(t) = progress.ttfb {
            s = s.with_ttfb(t);
        }
        let _ = samples.send(if complete { s } else { s.partial() });
    };
    let mut attempts_without_progress = 0u32;
    let mut total_attempts = 0u32;
    loop {
        attempts_without_progress += 1;
        total_attempts += 1;
        tracing::Span::current().record("attempt", total_attempts);
        let before = progress.delivered;
        let stop = tokio::select! {
            biased;
            _ = cancelled.as_mut() => Stop::Cancelled,
            r = attempt(inner, &client, cmd, &mut progress, state, &url) => match r {
                Ok(resource_end) => {
                    report(&progress, progress.delivered - before, true);
                    return FetchOutcome::Completed {
                        bytes: progress.delivered,
                        end: progress.next,
                        resource_end,
                    };
                }
                Err(stop) => stop,
            },
        };
        report(&progress, progress.delivered - before, false);
        if progress.delivered > before {
            attempts_without_progress = 1;
        }
        let (error, retry_after) = match stop {
            Stop::Cancelled => return FetchOutcome::Cancelled,
            // A writer refusing bytes because the stream is being torn down is a cancellation.
            Stop::Fatal(_) if cmd.cancel_token().is_cancelled() => return FetchOutcome::Cancelled,
            Stop::Fatal(e) => {
                tracing::error!(error = %e, "fetch failed");
                return FetchOutcome::Failed(e);
            }
            Stop::Retry { error, .. } if error.is_connect() && !cmd.retries_connect() => {
                tracing::debug!(error = %error, "connect failed; not retried");
                return FetchOutcome::Failed(error);
            }
            Stop::Retry { error, retry_after } => (error, retry_after),
        };
        let max_attempts = cmd.max_attempts().unwrap_or(policy.max_attempts).max(1);
        if attempts_without_progress >= max_attempts {
            tracing::error!(error = %error, attempts = total_attempts, "fetch failed, retries exhausted");
            return FetchOutcome::Failed(Error::RetriesExhausted {
                url: url.clone(),
                attempts: total_attempts,
                last: Box::new(error),
            });
        }
        let delay = policy.delay(attempts_without_progress, retry_after);
        tracing::warn!(error = %error, attempt = total_attempts, resume_at = progress.next, ?delay, "retrying fetch");
        tokio::select! {
            biased;
            _ = cancelled.as_mut() => return FetchOutcome::Cancelled,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Hands a response's facts to the command; a rejection ends the command without retries.
fn report_response(cmd: &mut FetchCmd, info: &ResponseInfo) -> Result<(), Stop> {
    match cmd.on_response.as_mut() {
        Some(hook) => hook(info).map_err(Stop::Fatal),
        None => Ok(()),
    }
}

/// One request and its body. Returns what it proved about the resource's end.
async fn attempt(
    inner: &Inner,
    client: &reqwest::Client,
    cmd: &mut FetchCmd,
    progress: &mut Progress,
    state: &PeerState,
    url: &RedactedUrl,
) -> Result<ResourceEnd, Stop> {
    let inactivity = cmd.inactivity().unwrap_or(inner.config.inactivity_timeout);
    let Some((req, builder)) = request::build(client, cmd, progress) else {
        return Ok(ResourceEnd::Unknown);
    };
    let range_for_err = req.range_for_errors();
    if let Some(v) = &req.if_range {
        tracing::trace!(if_range = %v, "conditional range request");
    }
    let sent = Instant::now();
    progress.sent = Some(sent);
    progress.ttfb = None;
    let resp = match timeout(inactivity, builder.send()).await {
        Err(_) => {
            return Err(Stop::retry(Error::Inactivity {
                url: url.clone(),
                range: range_for_err,
                timeout: inactivity,
            }))
        }
        Ok(Err(e)) => {
            // A request that cannot be built (unsupported scheme, bad header) or redirected will
            // not get better by retrying.
            let fatal = e.is_builder() || e.is_redirect();
            let err = transport(&req.method, url, range_for_err, e, false);
            return Err(if fatal {
                Stop::Fatal(err)
            } else {
                Stop::retry(err)
            });
        }
        Ok(Ok(r)) => r,
    };
    progress.ttfb = Some(sent.elapsed());
    if let Class::PastEnd(end) = classify(&resp, &req, url)? {
        let total = match end {
            ResourceEnd::Exact(t) => Some(t),
            _ => None,
        };
        let info = response_info(&resp, req.want.start, total, true, None);
        report_response(cmd, &info)?;
        return Ok(end);
    }
    let v = validate(&resp, &req, cmd, progress, url)?;
    let info = response_info(
        &resp,
        progress.next,
        v.total_len,
        v.accepts_ranges,
        v.validator.clone(),
    );
    if progress.validator.is_none() {
        progress.validator = v.validator.clone();
    }
    if progress.total.is_none() {
        progress.total = v.total_len;
    }
    report_response(cmd, &info)?;
    if cmd.method() == FetchMethod::Head {
        return Ok(v.total_len.map_or(ResourceEnd::Unknown, ResourceEnd::Exact));
    }
    let expected_end = match (req.want.end, v.body_end) {
        (Some(e), Some(b)) => Some(e.min(b)),
        (e, b) => e.or(b),
    };
    let body = Body {
        method: &req.method,
        url,
        range: range_for_err,
        want: req.want,
        expected_end,
        inactivity,
    };
    let pos = body
        .receive(resp, v.body_start, cmd, progress, state)
        .await?;
    Ok(v.proven_end(&req, pos))
}
