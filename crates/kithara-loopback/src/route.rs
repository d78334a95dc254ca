//! What the server answers on one path: [`Route`] and the [`Fault`]s it injects.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::throttle::{Throttle, ThrottleHandle};

/// Default size of one body frame handed to hyper.
pub(crate) const DEFAULT_CHUNK: usize = 64 * 1024;

/// The response configuration of one path.
///
/// Built with [`Route::new`] and by-value setters, then installed with
/// [`LoopbackServer::route`](crate::LoopbackServer::route). By default a route serves
/// its body with `200`/`206`, `Content-Length`, `Accept-Ranges: bytes`, an
/// `ETag` and `Content-Type: application/octet-stream`, and honours single
/// `Range` requests and `If-Range`.
#[derive(Clone)]
pub struct Route {
    pub(crate) body: Bytes,
    pub(crate) etag: String,
    pub(crate) content_type: String,
    pub(crate) ranges: bool,
    pub(crate) chunked: bool,
    pub(crate) unknown_total: bool,
    pub(crate) throttle: Option<Throttle>,
    pub(crate) latency: Option<Duration>,
    pub(crate) chunk_size: usize,
    pub(crate) status: Option<u16>,
    pub(crate) redirect: Option<(String, u16)>,
    pub(crate) ranged_reply: Option<(Bytes, String)>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) radio: Option<crate::Radio>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies can be hundreds of MiB: show the length, not the bytes.
        f.debug_struct("Route")
            .field("body_len", &self.body.len())
            .field("etag", &self.etag)
            .field("content_type", &self.content_type)
            .field("ranges", &self.ranges)
            .field("chunked", &self.chunked)
            .field("unknown_total", &self.unknown_total)
            .field("throttle", &self.throttle)
            .field("latency", &self.latency)
            .field("chunk_size", &self.chunk_size)
            .field("status", &self.status)
            .field("redirect", &self.redirect)
            .field(
                "ranged_reply",
                &self.ranged_reply.as_ref().map(|(b, ct)| (b.len(), ct)),
            )
            .field("faults", &self.faults)
            .field("radio", &self.radio.as_ref().map(|r| r.metaint))
            .finish()
    }
}

/// A misbehaviour injected into the responses of a route.
///
/// Every fault has its own counter, kept per installed route (replacing a
/// route resets them). A body fault (`ResetAfter`, `Stall`, `ShortBody`,
/// `WrongContentLength`) only consumes one of its `times` when it actually
/// affects a response, i.e. when the response has a body longer than `after`
/// (or, for `WrongContentLength`, of a length different from `declared`);
/// `HEAD`, `416` and too-short range responses leave it untouched. Byte
/// offsets (`after`) count body bytes of that response, not offsets in the
/// route's body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Fault {
    /// The first `times` responses are cut after `after` body bytes: the body
    /// stream ends with an error once those bytes are flushed to the socket, so
    /// hyper drops the connection without a clean end of message. The client
    /// receives exactly `after` bytes, then an error. Recorded as
    /// [`ResponseEnd::Fault`](crate::ResponseEnd::Fault).
    ResetAfter {
        /// Body bytes delivered before the cut.
        after: u64,
        /// How many responses are cut.
        times: u32,
    },
    /// The first `count` requests get `status` (e.g. 503 or 429) with a short
    /// text body and, if set, a `Retry-After: secs` header. Checked before
    /// anything else (redirects, fixed statuses, ranges).
    FailFirst {
        /// How many requests fail.
        count: u32,
        /// Status code of the failures.
        status: u16,
        /// Value of the `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// The first `times` responses send `after` body bytes, then nothing for
    /// `stall` while holding the connection open, then continue normally.
    /// `Duration::MAX` stalls until the client leaves.
    Stall {
        /// Body bytes delivered before the stall.
        after: u64,
        /// How long to send nothing.
        stall: Duration,
        /// How many responses stall.
        times: u32,
    },
    /// The first `times` responses announce the full `Content-Length` but end
    /// after `after` body bytes by closing the connection (the body stream
    /// ends "cleanly" and hyper closes the connection because the message is
    /// incomplete). Recorded as [`ResponseEnd::Fault`](crate::ResponseEnd::Fault).
    ShortBody {
        /// Body bytes delivered before the connection closes.
        after: u64,
        /// How many responses are short.
        times: u32,
    },
    /// The first `times` responses declare `Content-Length: declared` while
    /// the body has another length.
    ///
    /// * `declared` > real length: the real body is sent, then the
    ///   connection closes; the client sees a body that ends early.
    /// * `declared` < real length: hyper sends only `declared` bytes and
    ///   keeps the connection; the client sees a complete but short
    ///   (truncated) body.
    ///
    /// Applies to chunked routes too (they then carry a `Content-Length`).
    /// Recorded as [`ResponseEnd::Fault`](crate::ResponseEnd::Fault).
    WrongContentLength {
        /// The `Content-Length` announced.
        declared: u64,
        /// How many responses carry the wrong length.
        times: u32,
    },
    /// The first `times` `206` responses announce `total` as the resource's length in
    /// `Content-Range` (the bytes sent are the real ones), as a resource replaced under the same
    /// validator would.
    ContentRangeTotal {
        /// The total announced.
        total: u64,
        /// How many responses announce it.
        times: u32,
    },
    /// The first `times` `206` responses claim, in `Content-Range`, to start `by` bytes later
    /// than they really do: the range does not match the request.
    ShiftedRange {
        /// How far the announced start is off.
        by: u64,
        /// How many responses are off.
        times: u32,
    },
}

impl Route {
    /// A route serving `body` (see the type docs for the defaults).
    ///
    /// The `ETag` is `"<len hex>-<fingerprint hex>"`, the fingerprint covering
    /// the whole body up to 1 MiB and a sample of larger bodies (first and last
    /// 256 KiB, 64 spread 4 KiB blocks); use [`etag`](Route::etag) to force one.
    pub fn new(body: impl Into<Bytes>) -> Route {
        let body = body.into();
        let etag = format!("\"{:x}-{:016x}\"", body.len(), fingerprint(&body));
        Route {
            body,
            etag,
            content_type: "application/octet-stream".to_owned(),
            ranges: true,
            chunked: false,
            unknown_total: false,
            throttle: None,
            latency: None,
            chunk_size: DEFAULT_CHUNK,
            status: None,
            redirect: None,
            ranged_reply: None,
            faults: Vec::new(),
            radio: None,
        }
    }

    /// An internet radio: an endless `200` body looping the station's payload, without
    /// `Content-Length` or `Accept-Ranges` (`Range` is ignored), with the station's `icy-*`
    /// headers, `Content-Type: audio/mpeg` (change it with [`content_type`](Route::content_type)),
    /// and ICY metadata blocks interleaved when the request says `Icy-MetaData: 1` (see
    /// [`Radio`](crate::Radio)). Faults apply per connection: [`Fault::ResetAfter`] cuts the
    /// connection after `after` wire bytes (`times: u32::MAX` cuts every connection: a reset
    /// every N bytes), [`Fault::Stall`] sends nothing for `stall` after `after` wire bytes. The
    /// log records the `icy-metaint` each response used.
    pub fn radio(radio: crate::Radio) -> Route {
        let mut r = Route::new(radio.payload.clone()).content_type("audio/mpeg");
        r.radio = Some(radio);
        r
    }

    /// Sets the `Content-Type` header (default `application/octet-stream`).
    #[must_use]
    pub fn content_type(mut self, ct: &str) -> Route {
        ct.clone_into(&mut self.content_type);
        self
    }

    /// Sets the `ETag` (a quoted string, e.g. `"\"v2\""`), overriding the
    /// one derived from the body. `If-Range` is compared against it.
    #[must_use]
    pub fn etag(mut self, etag: &str) -> Route {
        etag.clone_into(&mut self.etag);
        self
    }

    /// Ignores `Range` and `If-Range`: always `200` with the full body, and no
    /// `Accept-Ranges` header.
    #[must_use]
    pub fn no_range(mut self) -> Route {
        self.ranges = false;
        self
    }

    /// Sends bodies without `Content-Length` (`Transfer-Encoding: chunked`).
    /// A `206` still carries `Content-Range` with the real total; a `200`
    /// carries no length information at all.
    #[must_use]
    pub fn chunked(mut self) -> Route {
        self.chunked = true;
        self
    }

    /// Pretends the total length is unknown: `206` responses say
    /// `Content-Range: bytes a-b/*` (still with a `Content-Length` unless
    /// [`chunked`](Route::chunked)), `200` responses are chunked, and a `416`
    /// carries no `Content-Range`.
    #[must_use]
    pub fn unknown_total(mut self) -> Route {
        self.unknown_total = true;
        self
    }

    /// Paces the body at `bytes_per_sec` (frames of at most
    /// `min(chunk_size, 16 KiB, rate / 50)` bytes). `0` means unthrottled.
    #[must_use]
    pub fn throttle(mut self, bytes_per_sec: u64) -> Route {
        self.throttle = (bytes_per_sec > 0).then_some(Throttle::Fixed(bytes_per_sec));
        self
    }

    /// Paces the body at the rate of `handle`, read again before every frame: a
    /// [`ThrottleHandle::set`] changes responses in flight and later ones. Frames are
    /// of at most `min(chunk_size, 16 KiB, rate / 50)` bytes at the current rate.
    /// Replaces [`throttle`](Route::throttle).
    #[must_use]
    pub fn throttle_handle(mut self, handle: ThrottleHandle) -> Route {
        self.throttle = Some(Throttle::Shared(handle));
        self
    }

    /// Waits `d` before sending the response headers.
    #[must_use]
    pub fn latency(mut self, d: Duration) -> Route {
        self.latency = Some(d);
        self
    }

    /// Sets the size of the body frames handed to hyper (default 64 KiB,
    /// minimum 1).
    #[must_use]
    pub fn chunk_size(mut self, n: usize) -> Route {
        self.chunk_size = n.max(1);
        self
    }

    /// Always answers `code` (e.g. 404, 410, 500) with a short text body,
    /// ignoring `Range`. An invalid code answers 500.
    #[must_use]
    pub fn status(mut self, code: u16) -> Route {
        self.status = Some(code);
        self
    }

    /// Answers `code` (301, 302, 307, 308) with `Location: location` (a path
    /// or an absolute URL). Takes precedence over [`status`](Route::status).
    #[must_use]
    pub fn redirect(mut self, location: &str, code: u16) -> Route {
        self.redirect = Some((location.to_owned(), code));
        self
    }

    /// Answers every request whose `Range` starts past byte 0 with `200 OK` and `body` (of type
    /// `content_type`) instead of the route's bytes, as a misconfigured front end that serves an
    /// error page for mid-file ranges does. Requests from byte 0 get the real body.
    #[must_use]
    pub fn ranges_answered_with(mut self, body: impl Into<Bytes>, content_type: &str) -> Route {
        self.ranged_reply = Some((body.into(), content_type.to_owned()));
        self
    }

    /// Adds a fault; a route may carry several.
    #[must_use]
    pub fn fault(mut self, f: Fault) -> Route {
        self.faults.push(f);
        self
    }
}

/// Bodies up to this size are fingerprinted entirely.
const FULL_HASH_LIMIT: usize = 1 << 20;

/// A content fingerprint for the `ETag`: the whole body up to 1 MiB; beyond
/// that its first and last 256 KiB plus 64 evenly spaced 4 KiB samples (so
/// that routes with hundreds of MiB install instantly, even in debug builds).
fn fingerprint(data: &[u8]) -> u64 {
    let mut h = Fnv::default();
    if data.len() <= FULL_HASH_LIMIT {
        h.write(data);
        return h.0;
    }
    const EDGE: usize = 256 * 1024;
    const SAMPLE: usize = 4096;
    const SAMPLES: usize = 64;
    h.write(&data[..EDGE]);
    h.write(&data[data.len() - EDGE..]);
    let step = (data.len() - SAMPLE) / SAMPLES;
    for i in 0..SAMPLES {
        let at = i * step;
        h.write(&data[at..at + SAMPLE]);
    }
    h.0
}

/// FNV-style hash, a word at a time.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn write(&mut self, data: &[u8]) {
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(w);
            self.0 = (self.0 ^ u64::from_le_bytes(buf)).wrapping_mul(Self::PRIME);
            self.0 ^= self.0 >> 29;
        }
        for &b in words.remainder() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }
}
