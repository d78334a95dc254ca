//! Master and media playlist parsing: any body reads or fails with an error, never panics.
#![no_main]

use kithara_hls::playlist::{parse_any, parse_media, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let url = url::Url::parse("http://127.0.0.1/live/index.m3u8?token=t").expect("a valid URL");
    let options = ParseOptions::default();
    let _ = parse_any(data, &url, &options);
    let _ = parse_media(data, &url, &options);
});
