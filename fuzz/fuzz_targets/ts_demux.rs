//! The MPEG-TS reader (demuxer and ADTS framing) over arbitrary bytes: packets come out or an
//! error ends the stream, never a panic.
#![no_main]

use kithara_decode::ts::TsReader;
use libfuzzer_sys::fuzz_target;
use symphonia::core::{
    formats::{FormatOptions, FormatReader},
    io::{MediaSourceStream, MediaSourceStreamOptions},
};

fuzz_target!(|data: &[u8]| {
    let cursor = std::io::Cursor::new(data.to_vec());
    let mss = MediaSourceStream::new(Box::new(cursor), MediaSourceStreamOptions::default());
    let Ok(mut reader) = TsReader::try_new(mss, FormatOptions::default()) else {
        return;
    };
    // Bounded: every packet consumes input.
    for _ in 0..100_000 {
        match reader.next_packet() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
