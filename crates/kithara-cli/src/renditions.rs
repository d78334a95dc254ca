//! The audio renditions (`EXT-X-MEDIA TYPE=AUDIO`) of an HLS master playlist, for `kithara info`.
//!
//! The HLS stream does not hand out its master playlist, so `info` reads it once more as a small
//! file (through the cache when there is one, so that it works offline too) and parses it with
//! kithara-hls's parser.

use std::io::Read;

use anyhow::{Context, Result};
use kithara_file::{File, FileConfig, StorageKind};
use kithara_hls::playlist::{self, AudioRendition, ParseOptions, Playlist};
use kithara_stream::{Stream, StreamOptions};
use url::Url;

use crate::source::OpenOptions;

/// Longest master playlist read.
const MAX_PLAYLIST: u64 = 1 << 20;

/// The audio renditions of the playlist at `url`, in playlist order (none for a media playlist).
pub(crate) async fn audio_renditions(
    url: Url,
    options: &OpenOptions,
) -> Result<Vec<AudioRendition>> {
    let storage = options
        .cache
        .clone()
        .map_or(StorageKind::Memory, StorageKind::Cache);
    let config = FileConfig::remote(url.clone(), options.downloader.clone())
        .options(
            StreamOptions::builder()
                .storage(storage)
                .wait_timeout(options.timeout)
                .build(),
        )
        .build();
    let stream = Stream::<File>::new(config).await?;
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        let mut body = Vec::new();
        stream.take(MAX_PLAYLIST).read_to_end(&mut body)?;
        Ok(body)
    })
    .await
    .context("the playlist reader failed")??;
    Ok(
        match playlist::parse_any(&body, &url, &ParseOptions::default())? {
            Playlist::Master(m) => m.audio_renditions,
            _ => Vec::new(),
        },
    )
}
