//! Performing one command over HTTP: attempts, retries, resume from the written frontier.
//!
//! Each attempt asks for the bytes not yet delivered (`Range` from the first unwritten byte, with
//! `If-Range` once an `ETag` is known), so a retry after a reset costs at most the bytes in flight.
//! A server that ignores `Range` answers 200 and its leading bytes are skipped. Connect errors,
//! resets, truncated bodies, inactivity, 408, 429 and 5xx are retried with backoff (honouring
//! `Retry-After`); other 4xx fail at once.

use std::{future::Future, pin::Pin, time::Duration};

use http::{header, StatusCode};
use tokio::time::timeout;

use super::response::{
    header_str, parse_content_range, response_info, retry_after, transport, Body,
};
use super::{
    downloader::Inner,
    fetch::{ByteRange, FetchMethod, ResponseInfo},
    peer::PeerState,
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
    /// ETag of the first response, to detect a changed resource on resume.
    pub(super) etag: Option<String>,
}

pub(crate) async fn execute(
    inner: &Inner,
    cmd: &mut FetchCmd,
    state: &PeerState,
    mut cancelled: Pin<&mut impl Future<Output = ()>>,
) -> FetchOutcome {
    let client = match &inner.client {
        Ok(c) => c.clone(),
        Err(e) => return FetchOutcome::Failed(e.clone()),
    };
    let policy = &inner.config.retry;
    let url = RedactedUrl::new(cmd.url());
    let start = cmd.range().map_or(0, |r| r.start);
    let mut progress = Progress {
        next: start,
        delivered: 0,
        etag: None,
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
                Ok(()) => return FetchOutcome::Completed { bytes: progress.delivered, end: progress.next },
                Err(stop) => stop,
            },
        };
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
            Stop::Retry { error, retry_after } => (error, retry_after),
        };
        if attempts_without_progress >= policy.max_attempts.max(1) {
            tracing::error!(error = %error, attempts = total_attempts, "fetch failed, retries exhausted");
            return FetchOutcome::Failed(Error::RetriesExhausted {
                url: url.clone(),
                attempts: total_attempts,
                last: Box::new(error),
            });
        }
        let delay = match retry_after {
            Some(d) => d.min(policy.max_retry_after),
            None => policy.backoff(attempts_without_progress),
        };
        tracing::warn!(error = %error, attempt = total_attempts, resume_at = progress.next, ?delay, "retrying fetch");
        tokio::select! {
            biased;
            _ = cancelled.as_mut() => return FetchOutcome::Cancelled,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Hands a response's facts to the command; a rejection ends the command without retries.
fn report_response(cmd: &mut FetchCmd, info: &ResponseInfo, url: &RedactedUrl) -> Result<(), Stop> {
    let Some(hook) = cmd.on_response.as_mut() else {
        return Ok(());
    };
    hook(info).map_err(|e| {
        Stop::Fatal(match e.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Rejected {
                url: url.clone(),
                source: other.into(),
            },
        })
    })
}

async fn attempt(
    inner: &Inner,
    client: &reqwest::Client,
    cmd: &mut FetchCmd,
    progress: &mut Progress,
    state: &PeerState,
    url: &RedactedUrl,
) -> Result<(), Stop> {
    let inactivity = inner.config.inactivity_timeout;
    let method = match cmd.method() {
        FetchMethod::Get => http::Method::GET,
        FetchMethod::Head => http::Method::HEAD,
    };
    let end = cmd.range().and_then(|r| r.end);
    if end.is_some_and(|e| progress.next >= e) {
        return Ok(());
    }
    let want = ByteRange {
        start: progress.next,
        end,
    };
    let ranged = cmd.range().is_some() || progress.next > 0;
    let mut req = client
        .request(method.clone(), cmd.url().clone())
        .headers(cmd.headers().clone());
    if ranged {
        req = req.header(header::RANGE, want.header_value());
        if let Some(etag) = progress.etag.as_deref().filter(|_| progress.delivered > 0) {
            req = req.header(header::IF_RANGE, etag);
        }
    }
    let range_for_err = ranged.then_some(want);
    let inactive = || {
        Stop::retry(Error::Inactivity {
            url: url.clone(),
            range: range_for_err,
            timeout: inactivity,
        })
    };
    let resp = match timeout(inactivity, req.send()).await {
        Err(_) => return Err(inactive()),
        Ok(Err(e)) => {
            // A request that cannot be built (unsupported scheme, bad header) or redirected will
            // not get better by retrying.
            let fatal = e.is_builder() || e.is_redirect();
            let err = transport(&method, url, range_for_err, e, false);
            return Err(if fatal {
                Stop::Fatal(err)
            } else {
                Stop::retry(err)
            });
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    let headers = resp.headers();
    let status_err = || Error::HttpStatus {
        method: method.clone(),
        url: url.clone(),
        range: range_for_err,
        status: status.as_u16(),
    };
    if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let total = header_str(headers, header::CONTENT_RANGE).and_then(|v| {
            v.trim()
                .strip_prefix("bytes */")
                .and_then(|t| t.trim().parse().ok())
        });
        // "From byte N to the end" of a resource of at most N bytes is empty, not an error: an empty
        // file, a resumed request whose connection broke just after the last byte, or a reader
        // that jumped past the end of a stream whose length was not known yet.
        if want.end.is_none() && total.is_some_and(|t| want.start >= t) {
            let info = response_info(&resp, want.start, total, true);
            return report_response(cmd, &info, url);
        }
        return Err(Stop::Fatal(Error::RangeNotSatisfiable {
            url: url.clone(),
            range: want,
            total,
        }));
    }
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        return Err(Stop::Retry {
            error: status_err(),
            retry_after: retry_after(headers),
        });
    }
    if !status.is_success() {
        return Err(Stop::Fatal(status_err()));
    }
    let content_length =
        header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    // Where the body starts: a 200 to a ranged request starts at 0 and its head is dropped below.
    let (body_start, total_len, accepts_ranges) = if status == StatusCode::PARTIAL_CONTENT {
        let cr = header_str(headers, header::CONTENT_RANGE).unwrap_or_default();
        match parse_content_range(&cr) {
            Some((a, _, total)) if a == want.start => (a, total, true),
            _ => {
                return Err(Stop::Fatal(Error::UnexpectedRange {
                    url: url.clone(),
                    requested: want,
                    answered: cr,
                }));
            }
        }
    } else {
        let accepts =
            header_str(headers, header::ACCEPT_RANGES).is_some_and(|v| v.contains("bytes"));
        (0, content_length, accepts)
    };
    let info = response_info(&resp, progress.next, total_len, accepts_ranges);
    if let (Some(before), Some(now)) = (progress.etag.as_deref(), info.etag.as_deref()) {
        if before != now && progress.delivered > 0 {
            return Err(Stop::Fatal(Error::ResourceChanged {
                url: url.clone(),
                before: before.to_owned(),
                after: now.to_owned(),
            }));
        }
    }
    if progress.etag.is_none() {
        progress.etag = info.etag.clone();
    }
    report_response(cmd, &info, url)?;
    if cmd.method() == FetchMethod::Head {
        return Ok(());
    }
    // Where this response's body must end for the command to be complete.
    let expected_end = match (end, total_len) {
        (Some(e), Some(t)) => Some(e.min(t)),
        (Some(e), None) => Some(e),
        (None, t) => t,
    };
    let body = Body {
        method: &method,
        url,
        range: range_for_err,
        end,
        expected_end,
        inactivity,
    };
    body.receive(resp, body_start, cmd, progress, state).await
}
