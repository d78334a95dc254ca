//! Turning a request into a response: route lookup, `Range`/`If-Range`
//! handling, headers, and the choice of faults for the body stream.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tokio::sync::Notify;

use crate::body::{BodyPlan, CutKind, InFlight, ServedBody, ServiceResult, StreamPlan};
use crate::log::{NewRecord, ResponseEnd, Shared};
use crate::route::{Fault, Route};

/// An installed route plus its per-fault usage counters.
#[derive(Debug)]
pub(crate) struct RouteEntry {
    pub(crate) route: Route,
    used: Vec<AtomicU32>,
}

impl RouteEntry {
    pub(crate) fn new(route: Route) -> Self {
        let used = route.faults.iter().map(|_| AtomicU32::new(0)).collect();
        Self { route, used }
    }

    /// Consumes one use of fault `i` if fewer than `limit` were used.
    pub(crate) fn take(&self, i: usize, limit: u32) -> bool {
        self.used.get(i).is_some_and(|c| {
            c.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
        })
    }
}

/// Per-connection context handed to every request on that connection.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    pub(crate) log: Arc<Shared>,
    pub(crate) routes: Arc<crate::server::Routes>,
    pub(crate) id: u64,
    pub(crate) flushed: Arc<Notify>,
}

/// Status, headers and body of a response, decided before it is logged.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body_start: u64,
    pub(crate) body: BodyPlan,
    /// The `icy-metaint` of a radio body with blocks.
    pub(crate) icy_metaint: Option<u64>,
}

/// Serves one request.
pub(crate) async fn respond<B>(conn: Arc<ConnCtx>, req: Request<B>) -> ServiceResult {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let range = header_string(req.headers(), &header::RANGE);
    let if_range = header_string(req.headers(), &header::IF_RANGE);
    let icy = req
        .headers()
        .get("icy-metadata")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    drop(req);

    let entry = conn.routes.get(&path);
    let head = method == Method::HEAD;
    let plan = match entry.as_deref() {
        Some(e) if e.route.radio.is_some() => crate::radio::plan(e, head, icy),
        Some(e) => plan_route(e, head, range.as_deref(), if_range.as_deref()),
        None => text(StatusCode::NOT_FOUND, head),
    };
    tracing::debug!(conn = conn.id, %method, %path, ?range, status = %plan.status, "request");

    let id = conn.log.request_started(NewRecord {
        connection: conn.id,
        method,
        path,
        range,
        if_range,
        status: plan.status.as_u16(),
        body_start: plan.body_start,
        icy_metaint: plan.icy_metaint,
    });
    // Dropped (-> ClientGone) if the client leaves during the latency.
    let guard = InFlight::new(Arc::clone(&conn.log), id);
    if let Some(d) = entry.as_ref().and_then(|e| e.route.latency) {
        tokio::time::sleep(d).await;
    }

    let body = ServedBody::new(guard, plan.body, Arc::clone(&conn.flushed));
    let mut resp = Response::new(body);
    *resp.status_mut() = plan.status;
    *resp.headers_mut() = plan.headers;
    Ok(resp)
}

fn header_string(headers: &HeaderMap, name: &header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or_else(|_| {
        tracing::warn!(code, "invalid status code configured, answering 500");
        StatusCode::INTERNAL_SERVER_ERROR
    })
}

/// A fixed-status response with a short text body.
pub(crate) fn text(status: StatusCode, head: bool) -> Plan {
    let msg = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(msg.len()));
    let body = if head {
        BodyPlan::Empty(ResponseEnd::Completed)
    } else {
        stream(Bytes::from(msg), 64 * 1024)
    };
    Plan {
        status,
        headers,
        body_start: 0,
        body,
        icy_metaint: None,
    }
}

/// A plain, fault-free body stream.
fn stream(data: Bytes, chunk: usize) -> BodyPlan {
    if data.is_empty() {
        return BodyPlan::Empty(ResponseEnd::Completed);
    }
    BodyPlan::Stream(StreamPlan {
        data,
        chunk,
        throttle: None,
        stalls: Vec::new(),
        cut: None,
        end: ResponseEnd::Completed,
    })
}

/// Result of interpreting a `Range` header against a body length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeReq {
    /// Not a (supported) single byte range: serve the full body.
    Ignore,
    /// Syntactically valid but outside the body: 416.
    Unsatisfiable,
    /// Serve `start..end` (end exclusive).
    Range(u64, u64),
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` against `total`.
pub(crate) fn parse_range(value: &str, total: u64) -> RangeReq {
    let value = value.trim();
    let Some((unit, spec)) = value.split_once('=') else {
        return RangeReq::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeReq::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeReq::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => RangeReq::Unsatisfiable,
            Ok(_) if total == 0 => RangeReq::Unsatisfiable,
            Ok(n) => RangeReq::Range(total.saturating_sub(n), total),
            Err(_) => RangeReq::Ignore,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeReq::Ignore;
    };
    let end = if b.is_empty() {
        total
    } else {
        match b.parse::<u64>() {
            Ok(last) if last >= start => last.saturating_add(1).min(total),
            _ => return RangeReq::Ignore,
        }
    };
    if start >= total {
        RangeReq::Unsatisfiable
    } else {
        RangeReq::Range(start, end)
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Decides the response of an installed route.
fn plan_route(entry: &RouteEntry, head: bool, range: Option<&str>, if_range: Option<&str>) -> Plan {
    let route = &entry.route;
    for (i, f) in route.faults.iter().enumerate() {
        if let Fault::FailFirst {
            count,
            status,
            retry_after,
        } = f
        {
            if entry.take(i, *count) {
                let mut plan = text(status_code(*status), head);
                if let Some(secs) = retry_after {
                    plan.headers
                        .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
                }
                return plan;
            }
        }
    }
    if let Some((location, code)) = &route.redirect {
        let mut plan = text(status_code(*code), head);
        match HeaderValue::from_str(location) {
            Ok(v) => {
                plan.headers.insert(header::LOCATION, v);
            }
            Err(_) => tracing::warn!(%location, "invalid redirect location"),
        }
        return plan;
    }
    if let Some(code) = route.status {
        return text(status_code(code), head);
    }

    let total = route.body.len() as u64;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&route.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&route.etag) {
        headers.insert(header::ETAG, v);
    }
    if route.ranges {
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    let total_str = if route.unknown_total {
        "*".to_owned()
    } else {
        total.to_string()
    };
    if let Some((reply, ct)) = &route.ranged_reply {
        if range.is_some_and(|r| matches!(parse_range(r, total), RangeReq::Range(s, _) if s > 0)) {
            return ranged_reply(reply.clone(), ct, head);
        }
    }
    let if_range_ok = if_range.is_none_or(|v| v.trim() == route.etag);
    let req = match range {
        Some(r) if route.ranges && if_range_ok => parse_range(r, total),
        _ => RangeReq::Ignore,
    };
    let (status, start, end) = match req {
        RangeReq::Ignore => (StatusCode::OK, 0, total),
        RangeReq::Range(s, e) => {
            let (shown_start, shown_total) = content_range_faults(entry, s, &total_str);
            let cr = format!("bytes {}-{}/{}", shown_start, e - 1, shown_total);
            if let Ok(v) = HeaderValue::from_str(&cr) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, s, e)
        }
        RangeReq::Unsatisfiable => {
            if !route.unknown_total {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            return Plan {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                headers,
                body_start: 0,
                body: BodyPlan::Empty(ResponseEnd::Completed),
                icy_metaint: None,
            };
        }
    };
    let data = route.body.slice(to_usize(start)..to_usize(end));
    let chunked = route.chunked || (route.unknown_total && status == StatusCode::OK);
    let (body, declared) = if head {
        (BodyPlan::Empty(ResponseEnd::Completed), None)
    } else {
        body_with_faults(entry, data.clone())
    };
    let len = data.len() as u64;
    match declared {
        Some(d) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(d));
        }
        None if !chunked => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        None => {}
    }
    Plan {
        status,
        headers,
        body_start: start,
        body,
        icy_metaint: None,
    }
}

/// A `200` with another body, for a ranged request (see `Route::ranges_answered_with`).
fn ranged_reply(body: Bytes, content_type: &str, head: bool) -> Plan {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let body = if head {
        BodyPlan::Empty(ResponseEnd::Completed)
    } else {
        stream(body, 64 * 1024)
    };
    Plan {
        status: StatusCode::OK,
        headers,
        body_start: 0,
        body,
        icy_metaint: None,
    }
}

/// The start and total a `206`'s `Content-Range` shows, after `ShiftedRange` and
/// `ContentRangeTotal` faults (consuming their counters).
fn content_range_faults(entry: &RouteEntry, start: u64, total: &str) -> (u64, String) {
    let mut shown = (start, total.to_owned());
    for (i, f) in entry.route.faults.iter().enumerate() {
        match *f {
            Fault::ShiftedRange { by, times } if entry.take(i, times) => {
                shown.0 = start.saturating_add(by);
            }
            Fault::ContentRangeTotal { total, times } if entry.take(i, times) => {
                shown.1 = total.to_string();
            }
            _ => {}
        }
    }
    shown
}

/// Picks the body faults that apply to this response (consuming their
/// counters) and returns the body plan plus a `Content-Length` override.
fn body_with_faults(entry: &RouteEntry, data: Bytes) -> (BodyPlan, Option<u64>) {
    let route = &entry.route;
    let len = data.len() as u64;
    let mut cut: Option<(u64, CutKind)> = None;
    let mut declared = None;
    for (i, f) in route.faults.iter().enumerate() {
        let (at, kind) = match *f {
            Fault::ResetAfter { after, times } if after < len && entry.take(i, times) => {
                (after, CutKind::Reset)
            }
            Fault::ShortBody { after, times } if after < len && entry.take(i, times) => {
                (after, CutKind::Close)
            }
            Fault::WrongContentLength { declared: d, times }
                if d != len && declared.is_none() && entry.take(i, times) =>
            {
                declared = Some(d);
                continue;
            }
            _ => continue,
        };
        cut = Some(cut.map_or((at, kind), |c| c.min((at, kind))));
    }
    let mut send = len;
    if let Some(d) = declared {
        send = send.min(d);
    }
    match cut {
        Some((at, _)) if at < send => send = at,
        Some(_) => cut = None,
        None => {}
    }
    if cut.is_none() && declared.is_some_and(|d| d > send) {
        // Body shorter than announced: end cleanly, hyper closes the connection.
        cut = Some((send, CutKind::Close));
    }
    let mut stalls = Vec::new();
    for (i, f) in route.faults.iter().enumerate() {
        if let Fault::Stall {
            after,
            stall,
            times,
        } = *f
        {
            if after < send && entry.take(i, times) {
                stalls.push((to_usize(after), stall));
            }
        }
    }
    stalls.sort_by_key(|&(at, _)| at);
    let faulty = cut.is_some() || declared.is_some();
    let end = if faulty {
        ResponseEnd::Fault
    } else {
        ResponseEnd::Completed
    };
    let data = data.slice(..to_usize(send));
    if data.is_empty() && cut.is_none() {
        return (BodyPlan::Empty(end), declared);
    }
    let plan = StreamPlan {
        data,
        chunk: route.chunk_size,
        throttle: route.throttle.clone(),
        stalls,
        cut: cut.map(|(_, kind)| kind),
        end,
    };
    (BodyPlan::Stream(plan), declared)
}

#[cfg(test)]
mod tests {
    use super::{parse_range, RangeReq};

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeReq::Range(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), RangeReq::Range(90, 100));
        assert_eq!(parse_range("bytes=90-200", 100), RangeReq::Range(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), RangeReq::Range(90, 100));
        assert_eq!(parse_range("bytes=-200", 100), RangeReq::Range(0, 100));
        assert_eq!(parse_range("bytes=100-", 100), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 100), RangeReq::Ignore);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeReq::Ignore);
        assert_eq!(parse_range("items=0-1", 100), RangeReq::Ignore);
        assert_eq!(parse_range("bytes=x-1", 100), RangeReq::Ignore);
    }
}
