//! Opening a URL or path as a PCM source: [`open_any`] hands the command's options to
//! [`kithara_open::open_decoder`] (which picks file or HLS) and returns an [`Input`]: the decoder,
//! the HLS facts `info` reports, and what to call the input in messages.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, Result};
use kithara_file::{FileSrc, StorageKind};
use kithara_open::{AnyDecoder, HlsOptions};
use kithara_storage::AssetStore;
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    AbrMode,
};

/// What an HLS input adds to `info`.
#[derive(Debug, Clone)]
pub(crate) struct HlsFacts {
    /// The variants: index, bandwidth, codecs.
    pub(crate) variants: Vec<kithara_hls::VariantSummary>,
    /// Whether the stream is live.
    pub(crate) live: bool,
    /// The presentation's duration (the sum of `EXTINF`), for VOD.
    pub(crate) duration: Option<Duration>,
}

/// An opened input: the decoder and what to call it in messages.
pub(crate) struct Input {
    /// The decoder.
    pub(crate) pcm: AnyDecoder,
    /// Facts of an HLS input.
    pub(crate) hls: Option<HlsFacts>,
    /// The redacted URL or the path, for messages.
    pub(crate) label: String,
    /// Cancels the stream: a read blocked waiting for bytes fails at once (Ctrl-C).
    pub(crate) abort: Arc<dyn Fn() + Send + Sync>,
}

/// How inputs are opened.
#[derive(Debug, Clone)]
pub(crate) struct OpenOptions {
    /// The shared downloader (used for remote inputs).
    pub(crate) downloader: Downloader,
    /// Longest time one read waits for bytes.
    pub(crate) timeout: Duration,
    /// Bytes downloaded ahead of the reader before the download pauses; `None`: the whole file.
    pub(crate) buffer_ahead: Option<u64>,
    /// The HLS variant to lock on; `None`: adaptive.
    pub(crate) variant: Option<usize>,
    /// The persistent cache to read through; `None`: each protocol's temporary storage.
    pub(crate) cache: Option<AssetStore>,
    /// HLS: the preferred language of the audio renditions.
    pub(crate) audio_language: Option<String>,
}

impl OpenOptions {
    /// Options with a downloader that uses the system proxy, as command-line tools do.
    pub(crate) fn new(timeout: Duration, cache: Option<AssetStore>) -> Result<Self> {
        let config = DownloaderConfig::builder().system_proxy(true).build();
        Ok(Self {
            downloader: Downloader::new(config).context("could not create the HTTP client")?,
            timeout,
            buffer_ahead: None,
            variant: None,
            cache,
            audio_language: None,
        })
    }
}

/// Opens `src` and probes it: a decoder ready for the first chunk.
pub(crate) async fn open_any(src: FileSrc, options: &OpenOptions) -> Result<Input> {
    let label = kithara_open::label(&src);
    let open = kithara_open::OpenOptions::builder()
        .downloader(options.downloader.clone())
        .wait_timeout(options.timeout)
        .maybe_file_buffer_ahead(options.buffer_ahead)
        .hls(
            HlsOptions::builder()
                .abr_mode(options.variant.map_or(AbrMode::Auto, AbrMode::Fixed))
                .maybe_audio_language(options.audio_language.clone())
                .build(),
        )
        .maybe_storage(options.cache.clone().map(StorageKind::Cache))
        .build();
    let pcm = match kithara_open::open_decoder(src, open).await {
        Ok(pcm) => pcm,
        Err(kithara_open::Error::NotAdaptive { origin }) => anyhow::bail!(
            "{origin}: --variant selects a variant of an HLS stream; a progressive file has none"
        ),
        // The stream's and the decoder's errors name the (redacted) URL themselves.
        Err(kithara_open::Error::Stream { source, .. }) => return Err(source.into()),
        Err(kithara_open::Error::Decode { source, .. }) => return Err(source.into()),
        Err(e) => return Err(e.into()),
    };
    let (hls, cancel) = pcm.with_stream(|s| {
        let hls = s.source().as_hls().map(|h| HlsFacts {
            variants: h.variants().to_vec(),
            live: h.is_live(),
            duration: s.timeline().duration(),
        });
        (hls, s.cancel_token().clone())
    });
    Ok(Input {
        pcm,
        hls,
        label,
        abort: Arc::new(move || cancel.cancel()),
    })
}
