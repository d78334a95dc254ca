//! The cache's index loader: any file content is accepted as an index or refused, never panics;
//! inputs are tried as they are and sealed (magic and checksum right), so that the record parser
//! behind the checksum is reached.
#![no_main]

use kithara_storage::fuzz_api::{decode_index, decode_index_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_index(data);
    let _ = decode_index_body(data);
});
