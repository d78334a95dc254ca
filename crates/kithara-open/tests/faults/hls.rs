//! The rows only HLS has: its playlist, the fMP4 init segment, the AES-128 key, byte ranges.

use kithara_hls::Error as HlsError;
use kithara_stream::ErrorClass;
use kithara_test_support::{Fault, Route};

use crate::{
    cases::{clean, hits, status, Case, Expect, FOREVER},
    runner::{original, Kind},
};

const HLS: &[Kind] = &Kind::HLS;
const KEY: &str = "/media/hls/aes/v0.key";
const INIT: &str = "/media/hls/fmp4/v0-init.mp4";

/// The key's fetch gave up on a 503: `KeyFetch` with the download's error as its source.
fn key_unavailable(e: &(dyn std::error::Error + 'static)) -> bool {
    match HlsError::find(e) {
        Some(HlsError::KeyFetch { source, .. }) => status(source, 503),
        _ => false,
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let mut v = playlist();
    v.extend(key());
    v
}

/// The media playlist, the init segment, byte ranges.
fn playlist() -> Vec<Case> {
    vec![
        Case {
            name: "playlist: 503 once",
            kinds: HLS,
            setup: |s, k| {
                let p = k.playlist();
                let route =
                    Route::new(crate::runner::shortened_playlist(&p)).fault(Fault::FailFirst {
                        count: 1,
                        status: 503,
                        retry_after: None,
                    });
                s.route(&p, route);
            },
            expect: clean,
            wire: |k, reqs| hits(&k.playlist(), reqs) >= 2,
            during: None,
        },
        Case {
            name: "playlist: 404",
            kinds: HLS,
            setup: |s, k| s.route(&k.playlist(), Route::new("gone").status(404)),
            expect: |_| Expect::Fails(ErrorClass::NotFound, |e| status(e, 404)),
            wire: |k, reqs| hits(&k.playlist(), reqs) >= 1,
            during: None,
        },
        Case {
            name: "playlist: HTML page with status 200",
            kinds: HLS,
            setup: |s, k| {
                let page = "<!DOCTYPE html><html><body>Please log in</body></html>";
                s.route(&k.playlist(), Route::new(page).content_type("text/html"));
            },
            expect: |_| {
                Expect::Fails(ErrorClass::InvalidData, |e| {
                    matches!(
                        HlsError::find(e),
                        Some(HlsError::HtmlInsteadOfPlaylist { .. })
                    )
                })
            },
            wire: |k, reqs| hits(&k.playlist(), reqs) >= 1,
            during: None,
        },
        Case {
            name: "init segment: reset mid-body, once",
            kinds: &[Kind::Fmp4],
            setup: |s, _| {
                s.route(
                    INIT,
                    original(INIT).fault(Fault::ResetAfter {
                        after: 200,
                        times: 1,
                    }),
                )
            },
            expect: clean,
            wire: |_, reqs| hits(INIT, reqs) >= 2,
            during: None,
        },
        Case {
            name: "init segment: 404",
            kinds: &[Kind::Fmp4],
            setup: |s, _| s.route(INIT, Route::new("gone").status(404)),
            expect: |_| Expect::Fails(ErrorClass::NotFound, |e| status(e, 404)),
            wire: |_, reqs| hits(INIT, reqs) >= 1,
            during: None,
        },
        Case {
            name: "EXT-X-BYTERANGE with Range ignored from the start",
            kinds: &[Kind::ByteRange],
            setup: |s, k| s.route(&k.target(), original(&k.target()).no_range()),
            expect: clean,
            wire: |k, reqs| hits(&k.target(), reqs) >= 1,
            during: None,
        },
    ]
}

/// The AES-128 key.
fn key() -> Vec<Case> {
    vec![
        Case {
            name: "key: 503 once",
            kinds: &[Kind::Aes],
            setup: |s, _| {
                let fault = Fault::FailFirst {
                    count: 1,
                    status: 503,
                    retry_after: None,
                };
                s.route(KEY, original(KEY).fault(fault));
            },
            expect: clean,
            wire: |_, reqs| hits(KEY, reqs) >= 2,
            during: None,
        },
        Case {
            name: "key: 503 for good",
            kinds: &[Kind::Aes],
            setup: |s, _| {
                let fault = Fault::FailFirst {
                    count: FOREVER,
                    status: 503,
                    retry_after: None,
                };
                s.route(KEY, original(KEY).fault(fault));
            },
            expect: |_| Expect::Fails(ErrorClass::Key, key_unavailable),
            wire: |_, reqs| hits(KEY, reqs) >= 1,
            during: None,
        },
        Case {
            name: "key: redirected",
            kinds: &[Kind::Aes],
            setup: |s, _| {
                s.route("/keys/moved.key", original(KEY));
                s.route(KEY, Route::new("").redirect("/keys/moved.key", 302));
            },
            expect: clean,
            wire: |_, reqs| hits("/keys/moved.key", reqs) >= 1,
            during: None,
        },
        Case {
            name: "key: 16 wrong bytes",
            kinds: &[Kind::Aes],
            setup: |s, _| s.route(KEY, Route::new(vec![0x5a_u8; 16])),
            expect: |_| {
                Expect::Fails(ErrorClass::Key, |e| {
                    matches!(HlsError::find(e), Some(HlsError::BadPadding))
                })
            },
            wire: |_, reqs| hits(KEY, reqs) >= 1,
            during: None,
        },
    ]
}
