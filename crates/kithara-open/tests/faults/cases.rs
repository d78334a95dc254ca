//! The table: each fault once (a count the retry budget absorbs) and for good, with the outcome
//! expected per stream kind.

use std::error::Error as StdError;

use kithara_stream::{find_error, Error, ErrorClass, TransportKind};
use kithara_test_support::{payload, Fault, LoopbackServer, RequestRecord, Route};

use crate::runner::{bytes, original, Kind, ATTEMPTS, RETRY_AFTER_CAP};

/// What a case must end in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// Every sample equal to the clean run's.
    Clean,
    /// An error of this class whose typed error passes the check.
    Fails(ErrorClass, Check),
}

/// A check of the typed error behind a failure, reached through the public API.
pub(crate) type Check = fn(&(dyn StdError + 'static)) -> bool;

/// One row of the matrix.
pub(crate) struct Case {
    /// Short name (the README's row).
    pub(crate) name: &'static str,
    /// The stream kinds it runs on.
    pub(crate) kinds: &'static [Kind],
    /// Installs the fault on the server (routes replace the clean ones).
    pub(crate) setup: fn(&LoopbackServer, Kind),
    /// The outcome per kind.
    pub(crate) expect: fn(Kind) -> Expect,
    /// What the wire must show: the fault was really hit (requests to the target).
    pub(crate) wire: fn(Kind, &[RequestRecord]) -> bool,
    /// Something to do while the stream runs (replace a route once bytes were served).
    pub(crate) during: Option<fn(&LoopbackServer, Kind)>,
}

pub(crate) const FOREVER: u32 = u32::MAX;
const ALL: &[Kind] = &Kind::ALL;

pub(crate) fn clean(_: Kind) -> Expect {
    Expect::Clean
}

/// The stream error behind `e`, looking through `RetriesExhausted` to the last attempt's.
pub(crate) fn last<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a Error> {
    match find_error::<Error>(e)? {
        Error::RetriesExhausted { last, .. } => Some(last),
        other => Some(other),
    }
}

pub(crate) fn status(e: &(dyn StdError + 'static), code: u16) -> bool {
    matches!(last(e), Some(Error::HttpStatus { status, .. }) if *status == code)
}

pub(crate) fn hits(path: &str, reqs: &[RequestRecord]) -> usize {
    reqs.iter().filter(|r| r.path == path).count()
}

/// At least `n` requests to the target.
fn at_least<const N: usize>(kind: Kind, reqs: &[RequestRecord]) -> bool {
    hits(&kind.target(), reqs) >= N
}

/// The target with `fault` on it.
fn faulted(server: &LoopbackServer, kind: Kind, fault: Fault) {
    let target = kind.target();
    server.route(&target, original(&target).fault(fault));
}

/// Mid-body offset of the faults: inside the file, the segment, the byte-range slice.
const MID: u64 = 1000;

pub(crate) fn cases() -> Vec<Case> {
    let mut v = transport();
    v.extend(statuses());
    v.extend(ranges());
    v.extend(crate::hls::cases());
    v
}

/// Resets, stalls, drips, short bodies and wrong lengths.
fn transport() -> Vec<Case> {
    vec![
        Case {
            name: "reset mid-body, once",
            kinds: ALL,
            setup: |s, k| {
                faulted(
                    s,
                    k,
                    Fault::ResetAfter {
                        after: MID,
                        times: 1,
                    },
                )
            },
            expect: clean,
            wire: at_least::<2>,
            during: None,
        },
        Case {
            name: "reset mid-body, every response (each resumes further)",
            kinds: ALL,
            setup: |s, k| {
                faulted(
                    s,
                    k,
                    Fault::ResetAfter {
                        after: MID,
                        times: FOREVER,
                    },
                )
            },
            expect: clean,
            wire: at_least::<3>,
            during: None,
        },
        Case {
            name: "reset before the body, every response",
            kinds: ALL,
            setup: |s, k| {
                faulted(
                    s,
                    k,
                    Fault::ResetAfter {
                        after: 0,
                        times: FOREVER,
                    },
                )
            },
            expect: |_| Expect::Fails(ErrorClass::Network, exhausted),
            wire: at_least::<{ ATTEMPTS as usize }>,
            during: None,
        },
        Case {
            name: "stall longer than the inactivity timeout, once",
            kinds: ALL,
            setup: |s, k| {
                let stall = std::time::Duration::MAX;
                faulted(
                    s,
                    k,
                    Fault::Stall {
                        after: MID,
                        stall,
                        times: 1,
                    },
                )
            },
            expect: clean,
            wire: at_least::<2>,
            during: None,
        },
        Case {
            name: "stall before the body, every response",
            kinds: ALL,
            setup: |s, k| {
                let stall = std::time::Duration::MAX;
                faulted(
                    s,
                    k,
                    Fault::Stall {
                        after: 0,
                        stall,
                        times: FOREVER,
                    },
                )
            },
            expect: |_| {
                Expect::Fails(ErrorClass::Timeout, |e| {
                    matches!(last(e), Some(Error::Inactivity { .. }))
                })
            },
            wire: at_least::<{ ATTEMPTS as usize }>,
            during: None,
        },
        Case {
            name: "drip below the playback rate",
            kinds: &[Kind::File, Kind::Ts, Kind::Fmp4, Kind::Aes],
            setup: |s, k| {
                let target = k.target();
                // The file: 32 KiB for 4 s; a segment: about 5 KiB for 2 s.
                let rate = if k == Kind::File { 6000 } else { 1500 };
                s.route(&target, original(&target).throttle(rate));
            },
            expect: clean,
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "short body, once",
            kinds: ALL,
            setup: |s, k| {
                faulted(
                    s,
                    k,
                    Fault::ShortBody {
                        after: MID,
                        times: 1,
                    },
                )
            },
            expect: clean,
            wire: at_least::<2>,
            during: None,
        },
        Case {
            name: "short body with no bytes, every response",
            kinds: ALL,
            setup: |s, k| {
                faulted(
                    s,
                    k,
                    Fault::ShortBody {
                        after: 0,
                        times: FOREVER,
                    },
                )
            },
            expect: |_| Expect::Fails(ErrorClass::Network, exhausted),
            wire: at_least::<{ ATTEMPTS as usize }>,
            during: None,
        },
        Case {
            name: "Content-Length larger than the body, once",
            kinds: ALL,
            setup: |s, k| {
                let declared = bytes(&k.target()).len() as u64 + 1000;
                faulted(s, k, Fault::WrongContentLength { declared, times: 1 })
            },
            expect: longer_than_body,
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "Content-Length larger than the body, every response",
            kinds: ALL,
            setup: |s, k| {
                let declared = bytes(&k.target()).len() as u64 + 1000;
                faulted(
                    s,
                    k,
                    Fault::WrongContentLength {
                        declared,
                        times: FOREVER,
                    },
                )
            },
            expect: longer_than_body,
            wire: at_least::<1>,
            during: None,
        },
    ]
}

/// Error statuses, retries, redirects, refused connections, pages instead of media.
fn statuses() -> Vec<Case> {
    vec![
        Case {
            name: "503 storm that ends within the retry budget",
            kinds: ALL,
            setup: |s, k| {
                let count = ATTEMPTS - 1;
                faulted(
                    s,
                    k,
                    Fault::FailFirst {
                        count,
                        status: 503,
                        retry_after: None,
                    },
                )
            },
            expect: clean,
            wire: at_least::<{ ATTEMPTS as usize }>,
            during: None,
        },
        Case {
            name: "503 for good",
            kinds: ALL,
            setup: |s, k| {
                faulted(
                    s,
                    k,
                    Fault::FailFirst {
                        count: FOREVER,
                        status: 503,
                        retry_after: None,
                    },
                )
            },
            expect: |_| Expect::Fails(ErrorClass::Network, |e| status(e, 503)),
            wire: at_least::<{ ATTEMPTS as usize }>,
            during: None,
        },
        Case {
            name: "429 with Retry-After, once",
            kinds: ALL,
            setup: |s, k| {
                let retry_after = Some(1);
                faulted(
                    s,
                    k,
                    Fault::FailFirst {
                        count: 1,
                        status: 429,
                        retry_after,
                    },
                )
            },
            expect: clean,
            wire: |k, reqs| {
                // The retry waited the capped Retry-After (a lower bound: cannot fail on a busy
                // machine).
                let t: Vec<_> = reqs.iter().filter(|r| r.path == k.target()).collect();
                t.len() >= 2 && t[1].at.duration_since(t[0].at) >= RETRY_AFTER_CAP
            },
            during: None,
        },
        Case {
            name: "404",
            kinds: ALL,
            setup: |s, k| s.route(&k.target(), Route::new("gone").status(404)),
            expect: |_| Expect::Fails(ErrorClass::NotFound, |e| status(e, 404)),
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "410",
            kinds: ALL,
            setup: |s, k| s.route(&k.target(), Route::new("gone").status(410)),
            expect: |_| Expect::Fails(ErrorClass::NotFound, |e| status(e, 410)),
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "403",
            kinds: ALL,
            setup: |s, k| s.route(&k.target(), Route::new("no").status(403)),
            expect: |_| Expect::Fails(ErrorClass::AccessDenied, |e| status(e, 403)),
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "redirect chain within the limit",
            kinds: ALL,
            setup: |s, k| {
                let target = k.target();
                s.route("/hop/real", original(&target));
                s.route("/hop/2", Route::new("").redirect("/hop/real", 302));
                s.route("/hop/1", Route::new("").redirect("/hop/2", 301));
                s.route(&target, Route::new("").redirect("/hop/1", 307));
            },
            expect: clean,
            wire: |_, reqs| hits("/hop/real", reqs) >= 1,
            during: None,
        },
        Case {
            name: "redirect chain over the limit",
            kinds: ALL,
            setup: |s, k| {
                for i in 0..8 {
                    s.route(
                        &format!("/hop/{i}"),
                        Route::new("").redirect(&format!("/hop/{}", i + 1), 302),
                    );
                }
                s.route("/hop/8", original(&k.target()));
                s.route(&k.target(), Route::new("").redirect("/hop/0", 302));
            },
            expect: |_| Expect::Fails(ErrorClass::Network, redirect_error),
            wire: |_, reqs| hits("/hop/8", reqs) == 0,
            during: None,
        },
        Case {
            name: "redirect loop",
            kinds: ALL,
            setup: |s, k| {
                let target = k.target();
                s.route(&target, Route::new("").redirect(&target, 302));
            },
            expect: |_| Expect::Fails(ErrorClass::Network, redirect_error),
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "connection refused",
            kinds: ALL,
            setup: |s, k| {
                let closed = refused_port();
                let to = format!("http://127.0.0.1:{closed}/gone");
                s.route(&k.target(), Route::new("").redirect(&to, 302));
            },
            expect: |_| {
                Expect::Fails(ErrorClass::Network, |e| {
                    matches!(
                        last(e),
                        Some(Error::Transport {
                            kind: TransportKind::Connect,
                            ..
                        })
                    )
                })
            },
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "HTML page with status 200",
            kinds: ALL,
            setup: |s, k| {
                let page = "<!DOCTYPE html><html><body>Please log in</body></html>".repeat(20);
                s.route(&k.target(), Route::new(page).content_type("text/html"));
            },
            expect: |k| match k {
                Kind::File => Expect::Fails(ErrorClass::Unsupported, |e| {
                    matches!(
                        find_error::<kithara_decode::Error>(e),
                        Some(kithara_decode::Error::HtmlPage { .. })
                    )
                }),
                _ => Expect::Fails(ErrorClass::InvalidData, |e| {
                    matches!(
                        kithara_hls::Error::find(e),
                        Some(kithara_hls::Error::HtmlInsteadOfMedia { .. })
                    )
                }),
            },
            wire: at_least::<1>,
            during: None,
        },
    ]
}

/// The retry budget ran out: exactly [`ATTEMPTS`] attempts.
pub(crate) fn exhausted(e: &(dyn StdError + 'static)) -> bool {
    matches!(find_error::<Error>(e), Some(Error::RetriesExhausted { attempts, .. }) if *attempts == ATTEMPTS)
}

fn changed(e: &(dyn StdError + 'static)) -> bool {
    matches!(last(e), Some(Error::ResourceChanged { .. }))
}

/// A `206` whose `Content-Range` is not the range asked for fails at once (a server bug, not
/// retried).
fn unexpected_range(e: &(dyn StdError + 'static)) -> bool {
    matches!(last(e), Some(Error::UnexpectedRange { .. }))
}

/// A body shorter than its `Content-Length`: the file learns the real length from the `416` of
/// the resume and plays clean; a plain HLS segment, whose place in the stream was fixed by that
/// length, fails with `ShortBody` (byte ranges and AES segments get their length elsewhere).
fn longer_than_body(kind: Kind) -> Expect {
    match kind {
        Kind::Ts | Kind::Fmp4 => Expect::Fails(ErrorClass::Network, |e| {
            matches!(last(e), Some(Error::ShortBody { .. }))
        }),
        _ => Expect::Clean,
    }
}

fn redirect_error(e: &(dyn StdError + 'static)) -> bool {
    matches!(
        last(e),
        Some(Error::Transport {
            kind: TransportKind::Redirect,
            ..
        })
    )
}

/// A port nothing listens on: bound, then released.
fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Ranges ignored or answered wrongly, and content that changes between requests.
fn ranges() -> Vec<Case> {
    vec![
        Case {
            name: "Range ignored on the resume",
            kinds: ALL,
            setup: |s, k| {
                let target = k.target();
                let route = original(&target).no_range().fault(Fault::ResetAfter {
                    after: MID,
                    times: 1,
                });
                s.route(&target, route);
            },
            expect: clean,
            wire: at_least::<2>,
            during: None,
        },
        Case {
            name: "mid-file ranges answered with a page",
            kinds: ALL,
            setup: |s, k| {
                let target = k.target();
                let route = original(&target)
                    .ranges_answered_with("<html>error</html>", "text/html")
                    .fault(Fault::ResetAfter {
                        after: MID,
                        times: 1,
                    });
                s.route(&target, route);
            },
            expect: |_| Expect::Fails(ErrorClass::ContentChanged, changed),
            wire: at_least::<2>,
            during: None,
        },
        Case {
            name: "wrong Content-Range on the resume, once",
            kinds: ALL,
            setup: |s, k| {
                let target = k.target();
                let route = original(&target)
                    .fault(Fault::ResetAfter {
                        after: MID,
                        times: 1,
                    })
                    .fault(Fault::ShiftedRange { by: 5, times: 1 });
                s.route(&target, route);
            },
            expect: |_| Expect::Fails(ErrorClass::Network, unexpected_range),
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "wrong Content-Range, every response",
            kinds: ALL,
            setup: |s, k| {
                let target = k.target();
                let route = original(&target)
                    .fault(Fault::ResetAfter {
                        after: MID,
                        times: 1,
                    })
                    .fault(Fault::ShiftedRange {
                        by: 5,
                        times: FOREVER,
                    });
                s.route(&target, route);
            },
            expect: |_| Expect::Fails(ErrorClass::Network, unexpected_range),
            wire: at_least::<1>,
            during: None,
        },
        Case {
            name: "content changes between requests (new ETag)",
            kinds: ALL,
            setup: |s, k| {
                let stall = std::time::Duration::MAX;
                faulted(
                    s,
                    k,
                    Fault::Stall {
                        after: MID,
                        stall,
                        times: 1,
                    },
                )
            },
            expect: |_| Expect::Fails(ErrorClass::ContentChanged, changed),
            wire: at_least::<2>,
            during: Some(|s, k| {
                let target = k.target();
                let sent = s.wait_until(crate::runner::HANG, |reqs, _| {
                    reqs.iter().any(|r| r.path == target && r.bytes_sent >= MID)
                });
                assert!(sent, "{target} was served");
                let len = bytes(&target).len();
                s.route(&target, Route::new(payload(len, 99)));
            }),
        },
    ]
}
