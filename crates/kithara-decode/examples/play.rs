//! Plays a URL or a local path through rodio: a `Stream<File>` decoded by `kithara-decode`,
//! chunk by chunk, into a rodio `Sink`.
//!
//! ```text
//! cargo run -p kithara-decode --example play --features rodio-example -- https://example.com/song.mp3
//! ```
//!
//! Behind the `rodio-example` feature because rodio's ALSA backend needs the ALSA headers to build.

use std::{error::Error, time::Duration};

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{File, FileConfig, FileSrc};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    RedactedUrl, Stream,
};
use rodio::{buffer::SamplesBuffer, OutputStreamBuilder, Sink};

/// Chunks queued in the sink before decoding pauses (a few seconds of audio).
const QUEUED: usize = 64;

fn main() -> Result<(), Box<dyn Error>> {
    let arg = std::env::args().nth(1).ok_or("usage: play <URL|PATH>")?;
    let rt = tokio::runtime::Runtime::new()?;
    let downloader = {
        let _guard = rt.enter();
        Downloader::new(DownloaderConfig::builder().build())?
    };
    let (src, origin) = match url::Url::parse(&arg) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            (FileSrc::Remote(u.clone()), Some(RedactedUrl::new(&u)))
        }
        _ => (FileSrc::Local(arg.into()), None),
    };
    let config = FileConfig::new(src)
        .downloader(downloader)
        .buffer_ahead(4 << 20);
    let stream = rt.block_on(Stream::<File>::new(config))?;
    // Decoding blocks while bytes are on their way: this thread may block, the runtime's may not.
    let mut decoder = Decoder::new(
        stream,
        DecoderConfig::builder().maybe_origin(origin).build(),
    )?;
    let info = decoder.info().clone();
    eprintln!(
        "{} in {}, {} Hz, {} ch, {:?}",
        info.codec_name,
        info.container
            .map_or_else(|| "?".to_owned(), |c| c.to_string()),
        info.sample_rate,
        info.channels,
        info.duration
    );

    let output = OutputStreamBuilder::open_default_stream()?;
    let sink = Sink::connect_new(output.mixer());
    while let Some(chunk) = decoder.next_chunk()? {
        sink.append(SamplesBuffer::new(
            chunk.channels,
            chunk.sample_rate,
            chunk.samples,
        ));
        while sink.len() > QUEUED {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    sink.sleep_until_end();
    Ok(())
}
