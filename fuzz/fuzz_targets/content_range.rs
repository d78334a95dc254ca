//! `Content-Range` parsing: any header value parses to a well-formed span or to nothing.
#![no_main]

use kithara_stream::dl::fuzz_api::parse_content_range;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = std::str::from_utf8(data) {
        if let Some((a, b, _)) = parse_content_range(v) {
            assert!(a < b, "an empty span accepted: {v:?}");
        }
    }
});
