//! Opens a progressive file over HTTP, jumps to the middle before it has downloaded, and reads.
//!
//! ```sh
//! cargo run -p kithara-file --example seek_anywhere            # against an embedded loopback server
//! cargo run -p kithara-file --example seek_anywhere -- <URL>   # against a real URL
//! ```
#![allow(clippy::print_stdout)]

use std::{
    io::{Read, Seek, SeekFrom},
    time::Instant,
};

use kithara_file::{File, FileConfig, FileEvent, StorageKind};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Received, Stream, StreamOptions,
};
use kithara_test_support::{payload, LoopbackServer, Route};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Without an argument, serve 16 MiB at 2 MiB/s from loopback so the jump lands far ahead.
    let server;
    let url = match std::env::args().nth(1) {
        Some(arg) => url::Url::parse(&arg)?,
        None => {
            server = LoopbackServer::start()?;
            server.route(
                "/track.mp3",
                Route::new(payload(16 << 20, 7)).throttle(2 << 20),
            );
            server.url("/track.mp3")
        }
    };

    let dl = Downloader::new(DownloaderConfig::builder().system_proxy(false).build())?;
    let config = FileConfig::remote(url, dl.clone())
        .options(
            StreamOptions::builder()
                .storage(StorageKind::Memory)
                .build(),
        )
        .build();
    let mut stream = Stream::<File>::new(config).await?;
    let mut events = stream.events();
    println!(
        "length: {:?} bytes, format hints: {:?}",
        stream.len(),
        stream.media_info()
    );

    let (stream, first_byte) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let middle = stream.len().unwrap_or(0) / 2;
        let started = Instant::now();
        stream.seek(SeekFrom::Start(middle))?;
        let mut buf = [0u8; 4096];
        stream.read_exact(&mut buf)?;
        Ok((stream, started.elapsed()))
    })
    .await??;
    println!("4 KiB from the middle arrived {first_byte:?} after the seek");

    while let Some(received) = events.try_recv() {
        if let Received::Event(FileEvent::RangeRequested { start, end }) = received {
            println!("the seek started a ranged request at byte {start} (end {end:?})");
        }
    }
    let present = stream.source().storage().map(|s| s.covered()).unwrap_or(0);
    println!(
        "{present} bytes downloaded so far; the gap before the middle is filled in the background"
    );
    Ok(())
}
