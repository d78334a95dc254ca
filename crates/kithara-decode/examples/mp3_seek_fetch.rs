//! What a far MP3 seek fetches and costs over a throttled link: serves an MP3 from the loopback
//! server at a given rate, seeks to a time, decodes a few seconds, and prints the bytes the server
//! sent, the wall time and the accuracy the decoder reports, for `SeekMode::Fast` and
//! `SeekMode::Accurate`.
//!
//! ```sh
//! cargo run --release -p kithara-decode --example mp3_seek_fetch -- FILE.mp3 [START_S] [SECS] [BYTES_PER_S]
//! ```
//! (defaults: 300 s, 5 s, 1 000 000 bytes/s).

#![allow(clippy::print_stdout)] // an example: its output is the point

use std::{error::Error, time::Instant};

use kithara_decode::{Decoder, DecoderConfig, SeekMode};
use kithara_file::{File, FileConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use kithara_test_support::{LoopbackServer, Route};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: mp3_seek_fetch FILE.mp3 [START_S] [SECS] [BYTES_PER_S]")?;
    let num = |i: usize, default: u64| -> Result<u64, Box<dyn Error>> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (start, secs, rate) = (num(1, 300)?, num(2, 5)?, num(3, 1_000_000)?);
    let body = std::fs::read(path)?;
    let len = body.len();
    let server = LoopbackServer::start()?;
    server.route(
        "/track.mp3",
        Route::new(body).content_type("audio/mpeg").throttle(rate),
    );
    let rt = tokio::runtime::Runtime::new()?;
    let dl = {
        let _g = rt.enter();
        Downloader::new(DownloaderConfig::builder().system_proxy(false).build())?
    };
    println!("{path}: {len} bytes served at {rate} bytes/s; seek to {start} s, decode {secs} s");
    for mode in [SeekMode::Fast, SeekMode::Accurate] {
        server.clear_log();
        let began = Instant::now();
        let config = FileConfig::remote(server.url("/track.mp3"), dl.clone()).build();
        let stream = rt.block_on(Stream::<File>::new(config))?;
        let mut d = Decoder::new(stream, DecoderConfig::builder().seek_mode(mode).build())?;
        let want = u64::from(d.info().sample_rate) * secs;
        d.seek(std::time::Duration::from_secs(start))?;
        let accuracy = d.time_accuracy();
        let mut frames = 0u64;
        let mut first = None;
        while frames < want {
            let Some(c) = d.next_chunk()? else { break };
            first.get_or_insert(c.time);
            frames += c.frames() as u64;
        }
        let elapsed = began.elapsed();
        drop(d);
        let sent: u64 = server.requests().iter().map(|r| r.bytes_sent).sum();
        println!(
            "{mode:?}: {:.3} s wall, {sent} bytes sent in {} requests, first chunk at {first:?}, {accuracy:?}",
            elapsed.as_secs_f64(),
            server.requests().len(),
        );
    }
    Ok(())
}
