//! Checking that a 200/206 answer belongs to the version and the range asked for, before any of
//! its bytes reach the writer.
//!
//! - A `206` must start where it was asked to (`Content-Range`), and its total and validator must
//!   match what is known: another total or validator is [`Error::ResourceChanged`].
//! - A `200` to a ranged request is the whole resource from byte 0. It is accepted, and its head
//!   skipped, only when it can be the same version: a different length or validator is
//!   `ResourceChanged`. A body that then ends before the requested offset is
//!   [`Error::RangeNotHonoured`]. So a misbehaving front end costs one failed command, never a
//!   loop of requests.

use http::{header, StatusCode};
use kithara_storage::Validator;

use super::{
    attempt::{Progress, Stop},
    fetch::ResourceEnd,
    request::{known_validator, Request},
    response::{header_str, parse_content_range},
    FetchCmd,
};
use crate::error::{Error, RedactedUrl};

/// What a validated response's body is.
pub(super) struct Validated {
    /// Absolute offset of the body's first byte.
    pub(super) body_start: u64,
    /// Where the body ends if complete (absolute), if announced.
    pub(super) body_end: Option<u64>,
    /// Total length of the resource, if the response tells it.
    pub(super) total_len: Option<u64>,
    /// Whether the server honours `Range`.
    pub(super) accepts_ranges: bool,
    /// The response's validators.
    pub(super) validator: Option<Validator>,
}

impl Validated {
    /// What a body that ended cleanly at `pos` proves about the resource's end.
    pub(super) fn proven_end(&self, req: &Request, pos: u64) -> ResourceEnd {
        match (self.total_len, req.want.end) {
            (Some(t), _) => ResourceEnd::Exact(t),
            // An open range (or a whole body) that ended cleanly ends where the resource ends.
            (None, None) => ResourceEnd::Exact(pos),
            (None, Some(_)) => ResourceEnd::Unknown,
        }
    }
}

fn changed(url: &RedactedUrl, before: String, after: String) -> Stop {
    Stop::Fatal(Error::ResourceChanged {
        url: url.clone(),
        before,
        after,
    })
}

/// Validates a 200/206 response against the request and what is known about the resource.
pub(super) fn validate(
    resp: &reqwest::Response,
    req: &Request,
    cmd: &FetchCmd,
    progress: &Progress,
    url: &RedactedUrl,
) -> Result<Validated, Stop> {
    let headers = resp.headers();
    let validator = Validator::new(
        header_str(headers, header::ETAG),
        header_str(headers, header::LAST_MODIFIED),
    );
    if let (Some(known), Some(now)) = (known_validator(cmd, progress), validator.as_ref()) {
        if known.conflicts_with(now) {
            return Err(changed(url, known.to_string(), now.to_string()));
        }
    }
    let known_total = cmd.expected_len().or(progress.total);
    let content_length =
        header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    if resp.status() == StatusCode::PARTIAL_CONTENT {
        let cr = header_str(headers, header::CONTENT_RANGE).unwrap_or_default();
        let unexpected = || {
            Stop::Fatal(Error::UnexpectedRange {
                url: url.clone(),
                requested: req.want,
                answered: cr.clone(),
            })
        };
        let Some((a, b, total)) = parse_content_range(&cr) else {
            return Err(unexpected());
        };
        let beyond_ask = req.want.end.is_some_and(|e| b > e);
        let beyond_total = total.is_some_and(|t| b > t);
        if a != req.want.start || beyond_ask || beyond_total {
            return Err(unexpected());
        }
        if let (Some(k), Some(t)) = (known_total, total) {
            if k != t {
                return Err(changed(url, format!("{k} bytes"), format!("{t} bytes")));
            }
        }
        return Ok(Validated {
            body_start: a,
            body_end: Some(b),
            total_len: total,
            accepts_ranges: true,
            validator,
        });
    }
    // 200: the whole resource, from byte 0.
    if let (Some(k), Some(l)) = (known_total, content_length) {
        if k != l {
            return Err(changed(url, format!("{k} bytes"), format!("{l} bytes")));
        }
    }
    if req.want.start > 0 {
        if let Some(l) = content_length.filter(|&l| l <= req.want.start) {
            return Err(Stop::Fatal(Error::RangeNotHonoured {
                url: url.clone(),
                requested: req.want,
                status: 200,
                body_len: Some(l),
            }));
        }
        tracing::debug!(
            resume_at = req.want.start,
            "server answered a ranged request with the whole body; skipping its head"
        );
    }
    let accepts_ranges =
        header_str(headers, header::ACCEPT_RANGES).is_some_and(|v| v.contains("bytes"));
    Ok(Validated {
        body_start: 0,
        body_end: content_length,
        total_len: content_length,
        accepts_ranges,
        validator,
    })
}
