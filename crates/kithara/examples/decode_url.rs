//! Decodes a URL or path to PCM through `kithara::open_decoder` and prints what it decoded.
//!
//! ```sh
//! cargo run -p kithara --example decode_url -- https://example.com/song.mp3
//! cargo run -p kithara --example decode_url     # the bundled media, from a loopback server
//! ```

#![allow(clippy::print_stdout)]

use std::time::Instant;

use kithara::{open_decoder, Downloader, DownloaderConfig, FileSrc, OpenOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dl = Downloader::new(DownloaderConfig::builder().system_proxy(true).build())?;
    // Without an argument: serve the bundled media on loopback (kept alive until the end).
    let (_server, sources) = match std::env::args().nth(1) {
        Some(arg) => (None, vec![arg]),
        None => {
            let server = kithara_test_support::LoopbackServer::start()?;
            server.mount_media("/media");
            let names = ["chirp.mp3", "chirp.flac", "hls/master.m3u8"];
            let urls = names.map(|n| server.url(&format!("/media/{n}")).to_string());
            (Some(server), urls.to_vec())
        }
    };
    for src in sources {
        let started = Instant::now();
        let options = OpenOptions::builder().downloader(dl.clone()).build();
        let mut decoder = open_decoder(src.parse::<FileSrc>()?, options).await?;
        let info = decoder.info().clone();
        let frames = tokio::task::spawn_blocking(move || {
            let mut frames = 0u64;
            while let Some(chunk) = decoder.next_chunk()? {
                frames += chunk.frames() as u64;
            }
            Ok::<_, kithara::decode::Error>(frames)
        })
        .await??;
        println!(
            "{src}: {} {} Hz × {} ch, {frames} frames ({:.2} s of audio) in {:.2} s",
            info.codec_name,
            info.sample_rate,
            info.channels,
            frames as f64 / f64::from(info.sample_rate.max(1)),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
