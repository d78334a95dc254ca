//! Classifying a response by its status: a body to read, a proven end (416 past the end),
//! something to retry (408, 429, 5xx, honouring `Retry-After`), or a failure.

use http::{header, StatusCode};

use super::{
    attempt::Stop,
    fetch::ResourceEnd,
    request::Request,
    response::{header_str, retry_after},
};
use crate::error::{Error, RedactedUrl};

/// What a response's status means for the command.
pub(super) enum Class {
    /// 200 or 206: validate it and read the body.
    Body,
    /// 416 for an open range starting at or past the end: nothing to read, and the end is proven.
    PastEnd(ResourceEnd),
}

/// Classifies `resp` for `req`.
pub(super) fn classify(
    resp: &reqwest::Response,
    req: &Request,
    url: &RedactedUrl,
) -> Result<Class, Stop> {
    let status = resp.status();
    let headers = resp.headers();
    let status_err = || Error::HttpStatus {
        method: req.method.clone(),
        url: url.clone(),
        range: req.range_for_errors(),
        status: status.as_u16(),
    };
    if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let total = header_str(headers, header::CONTENT_RANGE).and_then(|v| {
            v.trim()
                .strip_prefix("bytes */")
                .and_then(|t| t.trim().parse::<u64>().ok())
        });
        let want = req.want;
        // "From byte N to the end" of a resource of at most N bytes is empty, not an error: an
        // empty file, a resumed request whose connection broke just after the last byte, or a
        // reader that jumped past the end of a stream whose length was not known yet.
        if want.end.is_none() {
            match total {
                Some(t) if want.start >= t => return Ok(Class::PastEnd(ResourceEnd::Exact(t))),
                None => return Ok(Class::PastEnd(ResourceEnd::AtMost(want.start))),
                Some(_) => {}
            }
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
            retry_after: retry_after(headers, std::time::SystemTime::now()),
        });
    }
    if status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT {
        return Ok(Class::Body);
    }
    // Other 2xx (204, …) carry no bytes of the resource; 3xx left over are unfollowed redirects.
    Err(Stop::Fatal(status_err()))
}
