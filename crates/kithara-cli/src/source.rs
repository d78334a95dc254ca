//! Opening a URL or path as a PCM source: [`open_any`] picks the protocol and returns an [`Input`],
//! a decoder behind the small [`PcmSource`] trait so `info` and `decode` do not care which stream
//! type feeds it.
//!
//! An http(s) URL ending in `.m3u8` opens as HLS (`Stream<Hls>`, a fixed variant with `--variant`);
//! anything else as a progressive file (`Stream<File>`), unless the server answers with a playlist
//! MIME type ([`is_playlist_type`]): then that stream is dropped and the URL opens as HLS.

use std::{sync::Arc, time::Duration};

use anyhow::{bail, Context, Result};
use kithara_decode::{Decoder, DecoderConfig, PcmChunk, TrackInfo};
use kithara_file::{File, FileConfig, FileSrc};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    RedactedUrl, Stream, StreamType,
};
use url::Url;

/// A decoder over any stream type.
pub(crate) trait PcmSource: Send {
    /// The next chunk of PCM; `None` at the end of the track.
    fn next_chunk(&mut self) -> kithara_decode::Result<Option<PcmChunk>>;
    /// Frame-accurate seek to `to`.
    fn seek(&mut self, to: Duration) -> kithara_decode::Result<()>;
    /// Facts about the track.
    fn info(&self) -> &TrackInfo;
    /// Length of the resource in bytes, when known.
    fn byte_len(&self) -> Option<u64>;
}

impl<T: StreamType> PcmSource for Decoder<T>
where
    Decoder<T>: Send,
{
    fn next_chunk(&mut self) -> kithara_decode::Result<Option<PcmChunk>> {
        Decoder::next_chunk(self)
    }

    fn seek(&mut self, to: Duration) -> kithara_decode::Result<()> {
        Decoder::seek(self, to)
    }

    fn info(&self) -> &TrackInfo {
        Decoder::info(self)
    }

    fn byte_len(&self) -> Option<u64> {
        self.with_stream(|s| s.len())
    }
}

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
    pub(crate) pcm: Box<dyn PcmSource>,
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
}

impl OpenOptions {
    /// Options with a downloader that uses the system proxy, as command-line tools do.
    pub(crate) fn new(timeout: Duration) -> Result<Self> {
        let config = DownloaderConfig::builder().system_proxy(true).build();
        Ok(Self {
            downloader: Downloader::new(config).context("could not create the HTTP client")?,
            timeout,
            buffer_ahead: None,
            variant: None,
        })
    }
}

/// The redacted URL or the path of `src`, for messages.
pub(crate) fn label(src: &FileSrc) -> String {
    match src {
        FileSrc::Remote(url) => RedactedUrl::new(url).to_string(),
        FileSrc::Local(path) => path.display().to_string(),
        // FileSrc is non-exhaustive.
        other => format!("{other:?}"),
    }
}

/// Whether `src` names an HLS playlist (by its `.m3u8` extension).
pub(crate) fn is_hls(src: &FileSrc) -> bool {
    let path = match src {
        FileSrc::Remote(url) => url.path().to_owned(),
        FileSrc::Local(path) => path.to_string_lossy().into_owned(),
        _ => return false,
    };
    path.to_ascii_lowercase().ends_with(".m3u8")
}

/// Whether a `Content-Type` names an HLS playlist (`application/vnd.apple.mpegurl`,
/// `application/x-mpegurl`, `audio/mpegurl`, `audio/x-mpegurl`; parameters ignored).
pub(crate) fn is_playlist_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    [
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
    ]
    .iter()
    .any(|t| essence.eq_ignore_ascii_case(t))
}

/// Whether a file stream turned out to be served as an HLS playlist.
pub(crate) fn serves_playlist(stream: &Stream<File>) -> bool {
    is_playlist_type(stream.source().content_type())
}

/// Opens `src` and probes it: a decoder ready for the first chunk.
pub(crate) async fn open_any(src: FileSrc, options: &OpenOptions) -> Result<Input> {
    let label = label(&src);
    if is_hls(&src) {
        return open_hls(src, label, options).await;
    }
    // Without a playlist extension only the server's answer tells HLS apart, but a local file
    // or a URL named like an audio file is refused before any request.
    let named_as_audio = match &src {
        FileSrc::Remote(url) => kithara_stream::MediaInfo::from_path(url.path()).is_some(),
        _ => true,
    };
    if options.variant.is_some() && named_as_audio {
        bail!("{label}: --variant selects a variant of an HLS stream; a progressive file has none");
    }
    let origin = match &src {
        FileSrc::Remote(url) => Some(RedactedUrl::new(url)),
        FileSrc::Local(path) => std::path::absolute(path)
            .ok()
            .and_then(|p| Url::from_file_path(p).ok())
            .map(|u| RedactedUrl::new(&u)),
        _ => None,
    };
    let src_again = src.clone();
    let config = FileConfig::from_src(src, &options.downloader)
        .options(
            kithara_stream::StreamOptions::builder()
                .wait_timeout(options.timeout)
                .build(),
        )
        .maybe_buffer_ahead(options.buffer_ahead)
        .build();
    // The stream's errors name the (redacted) URL.
    let stream = Stream::<File>::new(config).await?;
    if serves_playlist(&stream) {
        tracing::debug!(url = %label, "the server answered with a playlist: opening as HLS");
        drop(stream);
        return open_hls(src_again, label, options).await;
    }
    if options.variant.is_some() {
        bail!("{label}: --variant selects a variant of an HLS stream; a progressive file has none");
    }
    let cancel = stream.cancel_token().clone();
    let abort: Arc<dyn Fn() + Send + Sync> = Arc::new(move || cancel.cancel());
    let config = DecoderConfig::builder().maybe_origin(origin).build();
    // Probing blocks on the stream: off the runtime.
    let decoder = tokio::task::spawn_blocking(move || Decoder::new(stream, config))
        .await
        .context("the decoder thread failed")??;
    Ok(Input {
        pcm: Box::new(decoder),
        hls: None,
        label,
        abort,
    })
}

/// Opens an HLS playlist URL: a `Decoder<Hls>` over the adaptive (or locked) stream.
async fn open_hls(src: FileSrc, label: String, options: &OpenOptions) -> Result<Input> {
    let FileSrc::Remote(url) = src else {
        bail!("{label}: HLS is read over http(s); serve the playlist and its segments over HTTP");
    };
    let mut config = kithara_hls::HlsConfig::builder()
        .url(url.clone())
        .downloader(options.downloader.clone())
        .options(
            kithara_stream::StreamOptions::builder()
                .wait_timeout(options.timeout)
                .build(),
        )
        .build();
    if let Some(v) = options.variant {
        config.abr_mode = kithara_stream::AbrMode::Fixed(v);
    }
    let stream = Stream::<kithara_hls::Hls>::new(config).await?;
    let source = stream.source();
    let variants = source.variants().to_vec();
    if let Some(v) = options.variant.filter(|&v| v >= variants.len()) {
        bail!(
            "{label}: there is no variant {v}: the stream has {}",
            variants.len()
        );
    }
    let facts = HlsFacts {
        live: source.is_live(),
        duration: stream.timeline().duration(),
        variants,
    };
    let cancel = stream.cancel_token().clone();
    let abort: Arc<dyn Fn() + Send + Sync> = Arc::new(move || cancel.cancel());
    let config = DecoderConfig::builder()
        .origin(RedactedUrl::new(&url))
        .build();
    let decoder = tokio::task::spawn_blocking(move || Decoder::new(stream, config))
        .await
        .context("the decoder thread failed")??;
    Ok(Input {
        pcm: Box::new(decoder),
        hls: Some(facts),
        label,
        abort,
    })
}
