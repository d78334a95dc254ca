//! Reading one HTTP response: header facts (`Content-Range`, `Retry-After`), transport error
//! classification, and the facts handed to `on_response`.

use std::time::{Duration, SystemTime};

use http::header;
use kithara_storage::Validator;

use super::fetch::{ByteRange, ResponseInfo};
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

/// The `Retry-After` delay: seconds, or an HTTP date (a date in the past means "now").
pub(super) fn retry_after(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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
    validator: Option<Validator>,
) -> ResponseInfo {
    ResponseInfo {
        status: resp.status().as_u16(),
        url: resp.url().clone(),
        offset,
        total_len,
        accepts_ranges,
        validator,
        content_type: header_str(resp.headers(), header::CONTENT_TYPE),
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

    proptest::proptest! {
        #[test]
        fn content_range_never_panics(v in ".{0,60}") {
            if let Some((a, b, total)) = parse_content_range(&v) {
                proptest::prop_assert!(a < b);
                let _ = total;
            }
        }

        #[test]
        fn content_range_reads_what_is_written(a in 0u64..u64::MAX - 1, len in 1u64..1 << 40, total in proptest::option::of(0u64..u64::MAX)) {
            let b = a.saturating_add(len - 1).min(u64::MAX - 1);
            let t = total.map_or("*".to_owned(), |t| t.to_string());
            proptest::prop_assert_eq!(
                parse_content_range(&format!("bytes {a}-{b}/{t}")),
                Some((a, b + 1, total))
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut h = http::HeaderMap::new();
        h.insert(header::RETRY_AFTER, http::HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        h.insert(header::RETRY_AFTER, later.parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        h.insert(header::RETRY_AFTER, past.parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(header::RETRY_AFTER, http::HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
