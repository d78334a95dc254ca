//! [`OpenOptions`] and [`HlsOptions`]: how [`open`](crate::open) opens a URL or path, and the one
//! place where they become a `FileConfig` or an `HlsConfig`.

use std::time::Duration;

use kithara_decode::DecoderConfig;
use kithara_file::{FileConfig, FileSrc, RadioConfig, StorageKind};
use kithara_hls::HlsConfig;
use kithara_stream::{dl::Downloader, AbrMode, FetchPriority, StreamOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::AnyEvent;

/// How to open a URL or path. Build with [`OpenOptions::builder`]; the downloader is required.
///
/// ```
/// use std::time::Duration;
/// use kithara_open::{HlsOptions, OpenOptions};
/// use kithara_stream::{dl::{Downloader, DownloaderConfig}, AbrMode, FetchPriority};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dl = Downloader::new(DownloaderConfig::default())?; // one per application
/// let options = OpenOptions::builder()
///     .downloader(dl.clone())
///     .hls(HlsOptions::builder().abr_mode(AbrMode::Fixed(1)).build())
///     .priority(FetchPriority::background()) // a preload: behind the current track's fetches
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
    /// Where a progressive file keeps its bytes, over [`storage`](Self::storage) (a player
    /// without a cache: files in its chosen storage, HLS in memory). Default: none, `storage`.
    pub file_storage: Option<StorageKind>,
    /// A progressive file: bytes downloaded ahead of the reader before the download pauses.
    /// Default: none, the whole file.
    pub file_buffer_ahead: Option<u64>,
    /// How an endless body (an internet radio) is detected and read: its ring, ICY metadata,
    /// the stall watchdog and reconnects. Default: [`RadioConfig::default`] (detected, a 30 s
    /// ring, ICY on).
    #[builder(default)]
    pub radio: RadioConfig,
    /// What an HLS stream is opened with (buffer ahead, ABR, audio rendition). Default:
    /// [`HlsOptions::default`].
    #[builder(default)]
    pub hls: HlsOptions,
    /// Priority of the stream's fetches on the shared downloader: a clone of
    /// [`FetchPriority::background`] opens a preload whose fetches wait behind every foreground
    /// stream's until `set_background(false)`. Default: the foreground.
    #[builder(default)]
    pub priority: FetchPriority,
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

/// What an HLS stream is opened with. Build with [`HlsOptions::builder`].
///
/// ```
/// use std::time::Duration;
/// use kithara_open::HlsOptions;
/// use kithara_stream::AbrMode;
/// let hls = HlsOptions::builder()
///     .max_bitrate(128_000)
///     .audio_language("en")
///     .buffer_ahead(Duration::from_secs(20))
///     .build();
/// assert_eq!(hls.abr_mode, AbrMode::Auto);
/// assert!(hls.fixed_variant_required);
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct HlsOptions {
    /// Media kept fetched ahead of the reader. Default: none, HLS's default (30 s).
    pub buffer_ahead: Option<Duration>,
    /// Automatic bitrate switching, or a fixed variant (an index into the master playlist's
    /// ladder) from the first segment on. Default: automatic.
    #[builder(default)]
    pub abr_mode: AbrMode,
    /// Highest variant bandwidth automatic switching may choose, in bits per second. Default:
    /// none.
    pub max_bitrate: Option<u64>,
    /// Preferred language of the audio renditions (`EXT-X-MEDIA LANGUAGE`, e.g. `en`).
    /// Default: the playlist's `DEFAULT` rendition.
    #[builder(into)]
    pub audio_language: Option<String>,
    /// The audio rendition to play by its `NAME` (`EXT-X-MEDIA NAME`), over `audio_language`.
    /// Default: none.
    #[builder(into)]
    pub audio_name: Option<String>,
    /// Whether a fixed variant that cannot be had is an error: on a progressive file
    /// ([`Error::NotAdaptive`](crate::Error::NotAdaptive)) or past the ladder's end
    /// ([`Error::NoSuchVariant`](crate::Error::NoSuchVariant)), as a command line's `--variant`
    /// wants. `false` (a player's setting for a whole queue): a progressive file ignores it and
    /// HLS applies kithara-hls' own rule (an index past the ladder opens adaptively). Default:
    /// `true`.
    #[builder(default = true)]
    pub fixed_variant_required: bool,
}

impl Default for HlsOptions {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Capacity of the protocol's own event channel and of the default [`AnyEvent`] channel.
pub(crate) const EVENTS_CAPACITY: usize = 64;

impl OpenOptions {
    /// The options both protocols share, sending the stream's events to `events`.
    fn stream_options<E>(
        &self,
        storage: Option<StorageKind>,
        events: broadcast::Sender<E>,
    ) -> StreamOptions<E> {
        StreamOptions::builder()
            .maybe_storage(storage)
            .wait_timeout(self.wait_timeout)
            .maybe_cancel(self.cancel.clone())
            .priority(self.priority.clone())
            .events(events)
            .build()
    }

    /// Whether a fixed variant asked for must be had (see
    /// [`HlsOptions::fixed_variant_required`]).
    pub(crate) fn fixed_variant(&self) -> Option<usize> {
        match self.hls.abr_mode {
            AbrMode::Fixed(i) if self.hls.fixed_variant_required => Some(i),
            _ => None,
        }
    }

    /// The progressive-file config of `src`, sending its events to `events`.
    pub(crate) fn file_config(
        &self,
        src: FileSrc,
        events: broadcast::Sender<kithara_file::FileEvent>,
    ) -> FileConfig {
        let storage = self.file_storage.clone().or_else(|| self.storage.clone());
        FileConfig::from_src(src, &self.downloader)
            .options(self.stream_options(storage, events))
            .maybe_buffer_ahead(self.file_buffer_ahead)
            .radio(self.radio.clone())
            .build()
    }

    /// The HLS config of the playlist at `url`, sending its events to `events`.
    pub(crate) fn hls_config(
        &self,
        url: Url,
        events: broadcast::Sender<kithara_hls::HlsEvent>,
    ) -> HlsConfig {
        let hls = &self.hls;
        HlsConfig::builder()
            .url(url)
            .downloader(self.downloader.clone())
            .options(self.stream_options(self.storage.clone(), events))
            .abr_mode(hls.abr_mode)
            .maybe_max_bitrate(hls.max_bitrate)
            .maybe_language(hls.audio_language.clone())
            .maybe_audio_name(hls.audio_name.clone())
            .maybe_buffer_ahead(hls.buffer_ahead)
            .build()
    }
}
