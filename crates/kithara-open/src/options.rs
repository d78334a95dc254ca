//! [`OpenOptions`]: how [`open`](crate::open) opens a URL or path, and the one place where they
//! become a `FileConfig` or an `HlsConfig`.

use std::time::Duration;

use kithara_decode::DecoderConfig;
use kithara_file::{FileConfig, FileSrc, StorageKind};
use kithara_hls::HlsConfig;
use kithara_stream::{dl::Downloader, AbrMode, StreamOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::AnyEvent;

/// How to open a URL or path. Build with [`OpenOptions::builder`]; the downloader is required.
///
/// ```
/// use std::time::Duration;
/// use kithara_open::OpenOptions;
/// use kithara_stream::{dl::{Downloader, DownloaderConfig}, AbrMode};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dl = Downloader::new(DownloaderConfig::default())?; // one per application
/// let options = OpenOptions::builder()
///     .downloader(dl.clone())
///     .abr_mode(AbrMode::Fixed(1))
///     .wait_timeout(Duration::from_secs(10))
///     .build();
/// # let _ = options; Ok(()) }
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct OpenOptions {
    /// The application's shared downloader (pass a clone). Required; a local path does not use
    /// it.
    pub downloader: Downloader,
    /// Longest time one read waits for bytes. Default: 30 s.
    #[builder(default = Duration::from_secs(30))]
    pub wait_timeout: Duration,
    /// Where the bytes are kept. Default: none, i.e. each protocol's default (a temporary file
    /// for a progressive file, memory for HLS segments). `StorageKind::Cache` keeps either in
    /// the persistent cache.
    pub storage: Option<StorageKind>,
    /// A progressive file: bytes downloaded ahead of the reader before the download pauses.
    /// Default: none, the whole file.
    pub file_buffer_ahead: Option<u64>,
    /// HLS: media kept fetched ahead of the reader. Default: none, HLS's default (30 s).
    pub hls_buffer_ahead: Option<Duration>,
    /// HLS: automatic bitrate switching, or a fixed variant (an index into the master
    /// playlist's ladder) from the first segment on. A fixed variant on a progressive file is an
    /// error ([`Error::NotAdaptive`](crate::Error::NotAdaptive)), as is one past the ladder's end
    /// ([`Error::NoSuchVariant`](crate::Error::NoSuchVariant)). Default: automatic.
    #[builder(default)]
    pub abr_mode: AbrMode,
    /// HLS: preferred language of the audio renditions (`EXT-X-MEDIA LANGUAGE`, e.g. `en`).
    /// Default: the playlist's `DEFAULT` rendition.
    #[builder(into)]
    pub audio_language: Option<String>,
    /// Channel to send the stream's events to (to gather the events of several streams in one
    /// place). The first receiver of [`Stream::events`](kithara_stream::Stream::events) sees the
    /// events of opening either way. Default: a new channel of 64 events.
    pub events: Option<broadcast::Sender<AnyEvent>>,
    /// Parent cancellation token of the stream. Default: a child of the downloader's root.
    pub cancel: Option<CancellationToken>,
    /// How [`open_decoder`](crate::open_decoder) configures the decoder. Its `origin`, when
    /// unset, is taken from the stream. Default: [`DecoderConfig::default`].
    #[builder(default)]
    pub decoder: DecoderConfig,
}

/// Capacity of the protocol's own event channel and of the default [`AnyEvent`] channel.
pub(crate) const EVENTS_CAPACITY: usize = 64;

impl OpenOptions {
    /// The options both protocols share, sending the stream's events to `events`.
    fn stream_options<E>(&self, events: broadcast::Sender<E>) -> StreamOptions<E> {
        StreamOptions::builder()
            .maybe_storage(self.storage.clone())
            .wait_timeout(self.wait_timeout)
            .maybe_cancel(self.cancel.clone())
            .events(events)
            .build()
    }

    /// The progressive-file config of `src`, sending its events to `events`.
    pub(crate) fn file_config(
        &self,
        src: FileSrc,
        events: broadcast::Sender<kithara_file::FileEvent>,
    ) -> FileConfig {
        FileConfig::from_src(src, &self.downloader)
            .options(self.stream_options(events))
            .maybe_buffer_ahead(self.file_buffer_ahead)
            .build()
    }

    /// The HLS config of the playlist at `url`, sending its events to `events`.
    pub(crate) fn hls_config(
        &self,
        url: Url,
        events: broadcast::Sender<kithara_hls::HlsEvent>,
    ) -> HlsConfig {
        HlsConfig::builder()
            .url(url)
            .downloader(self.downloader.clone())
            .options(self.stream_options(events))
            .abr_mode(self.abr_mode)
            .maybe_language(self.audio_language.clone())
            .maybe_buffer_ahead(self.hls_buffer_ahead)
            .build()
    }
}
