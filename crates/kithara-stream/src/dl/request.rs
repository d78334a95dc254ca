//! Building one attempt's request: the method, the caller's headers, `Range` from the written
//! frontier and `If-Range` with the version the bytes must belong to.

use http::header;
use kithara_storage::Validator;

use super::{
    attempt::Progress,
    fetch::{ByteRange, FetchMethod},
    FetchCmd,
};

/// One attempt's request, ready to send.
pub(super) struct Request {
    pub(super) method: http::Method,
    /// The bytes asked for: from the written frontier to the command's end.
    pub(super) want: ByteRange,
    /// Whether a `Range` header is sent (a ranged command, or a resume past byte 0).
    pub(super) ranged: bool,
    /// The validator sent in `If-Range`, if any.
    pub(super) if_range: Option<String>,
}

impl Request {
    /// The requested range as errors report it (`None` for a plain whole-resource GET).
    pub(super) fn range_for_errors(&self) -> Option<ByteRange> {
        self.ranged.then_some(self.want)
    }
}

/// The version this command's bytes must belong to: the caller's, else what the first response
/// of this command said.
pub(super) fn known_validator<'a>(
    cmd: &'a FetchCmd,
    progress: &'a Progress,
) -> Option<&'a Validator> {
    cmd.validator().or(progress.validator.as_ref())
}

/// Builds the next attempt's request, or `None` when the command's range is already delivered.
pub(super) fn build(
    client: &reqwest::Client,
    cmd: &FetchCmd,
    progress: &Progress,
) -> Option<(Request, reqwest::RequestBuilder)> {
    let method = match cmd.method() {
        FetchMethod::Get => http::Method::GET,
        FetchMethod::Head => http::Method::HEAD,
    };
    let end = cmd.range().and_then(|r| r.end);
    if end.is_some_and(|e| progress.next >= e) {
        return None;
    }
    let want = ByteRange {
        start: progress.next,
        end,
    };
    let ranged = cmd.range().is_some() || progress.next > 0;
    let mut builder = client
        .request(method.clone(), cmd.url().clone())
        .headers(cmd.headers().clone());
    let mut if_range = None;
    if ranged {
        builder = builder.header(header::RANGE, want.header_value());
        // Only when bytes of a known version are kept: a first request takes whatever is there.
        let keeps_bytes = progress.delivered > 0 || cmd.validator().is_some();
        if let Some(v) = known_validator(cmd, progress)
            .filter(|_| keeps_bytes)
            .and_then(Validator::if_range)
        {
            builder = builder.header(header::IF_RANGE, v);
            if_range = Some(v.to_owned());
        }
    }
    let req = Request {
        method,
        want,
        ranged,
        if_range,
    };
    Some((req, builder))
}
