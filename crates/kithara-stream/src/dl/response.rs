//! Reading one HTTP response: header facts (`Content-Range`, `Retry-After`, `ETag`), transport
//! error classification, and delivering the body to the command's writer.

use std::time::Duration;

use http::header;
use tokio::time::timeout;

use super::{
    attempt::{Progress, Stop},
    fetch::{ByteRange, ResponseInfo},
    peer::PeerState,
    FetchCmd,
};
use crate::error::{Error, RedactedUrl, TransportKind};

/// Classifies a client error by the stage that failed, keeping the URL out of its message.
pub(super) fn transport(
    method: &http::Method,
    url: &RedactedUrl,
    range: Option<ByteRange>,
    e: reqwest::Error,
    body: bool,
) -> Error {
    let kind = if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_redirect() {
        TransportKind::Redirect
    } else if e.is_builder() {
        TransportKind::Invalid
    } else if body || e.is_body() || e.is_decode() {
        TransportKind::Body
    } else if e.is_request() {
        TransportKind::Request
    } else {
        TransportKind::Other
    };
    Error::Transport {
        method: method.clone(),
        url: url.clone(),
        range,
        kind,
        source: std::sync::Arc::new(e.without_url()),
    }
}

/// The `Retry-After` delay, when given in seconds (an HTTP date falls back to backoff).
pub(super) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A header's value as text, if present and printable.
pub(super) fn header_str(headers: &http::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Parses `bytes a-b/total` (total may be `*`) into (a, b exclusive, total).
pub(super) fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = b.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (b >= a).then_some((a, b.checked_add(1)?, total))
}

/// What `resp` says about the resource, for a body whose first byte lands at `offset`.
pub(super) fn response_info(
    resp: &reqwest::Response,
    offset: u64,
    total_len: Option<u64>,
    accepts_ranges: bool,
) -> ResponseInfo {
    ResponseInfo {
        status: resp.status().as_u16(),
        url: resp.url().clone(),
        offset,
        total_len,
        accepts_ranges,
        etag: header_str(resp.headers(), header::ETAG),
        content_type: header_str(resp.headers(), header::CONTENT_TYPE),
    }
}

/// One response body being delivered to a command's writer.
pub(super) struct Body<'a> {
    pub(super) method: &'a http::Method,
    pub(super) url: &'a RedactedUrl,
    /// The requested range, as errors report it.
    pub(super) range: Option<ByteRange>,
    /// End of the command's range: bytes past it are dropped.
    pub(super) end: Option<u64>,
    /// Where the body must end for the command to be complete, if known.
    pub(super) expected_end: Option<u64>,
    pub(super) inactivity: Duration,
}

impl Body<'_> {
    /// Hands the body, from absolute offset `body_start`, to the writer: bytes before the resume
    /// point (a 200 to a ranged request) and past the range end are dropped.
    pub(super) async fn receive(
        &self,
        mut resp: reqwest::Response,
        body_start: u64,
        cmd: &mut FetchCmd,
        progress: &mut Progress,
        state: &PeerState,
    ) -> Result<(), Stop> {
        let url = self.url;
        let mut pos = body_start;
        loop {
            let chunk = match timeout(self.inactivity, resp.chunk()).await {
                Err(_) => {
                    return Err(Stop::retry(Error::Inactivity {
                        url: url.clone(),
                        range: self.range,
                        timeout: self.inactivity,
                    }))
                }
                Ok(Err(e)) => {
                    return Err(Stop::retry(transport(
                        self.method,
                        url,
                        self.range,
                        e,
                        true,
                    )))
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            let chunk_start = pos;
            pos += chunk.len() as u64;
            let lo = progress.next.max(chunk_start);
            let hi = self.end.map_or(pos, |e| pos.min(e));
            if hi > lo {
                let data = chunk.slice((lo - chunk_start) as usize..(hi - chunk_start) as usize);
                if let Some(w) = cmd.writer.as_mut() {
                    if let Err(e) = w(lo, data) {
                        return Err(Stop::Fatal(Error::Write {
                            url: url.clone(),
                            offset: lo,
                            source: e.into(),
                        }));
                    }
                }
                let n = hi - lo;
                progress.next = hi;
                progress.delivered += n;
                state
                    .bytes
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                tracing::trace!(offset = lo, len = n, "chunk");
            }
            if self.end.is_some_and(|e| progress.next >= e) {
                return Ok(());
            }
        }
        match self.expected_end {
            Some(e) if progress.next < e => Err(Stop::retry(Error::ShortBody {
                url: url.clone(),
                got: progress.next,
                expected: e,
            })),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            parse_content_range("bytes 0-99/1000"),
            Some((0, 100, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 6, None)));
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
