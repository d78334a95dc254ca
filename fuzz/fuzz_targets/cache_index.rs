//! The cache's index loader: any file content is accepted as an index or refused, never panics.
#![no_main]

use kithara_storage::fuzz_api::decode_index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_index(data);
});
