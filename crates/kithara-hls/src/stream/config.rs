//! [`HlsConfig`]: what to open and how, with the same setter style as `FileConfig`.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use kithara_storage::StorageKind;
use kithara_stream::{dl::Downloader, AbrMode};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    abr::{AbrPolicy, AbrPolicyFactory},
    playlist::DEFAULT_MAX_PLAYLIST_BYTES,
};

/// Configuration of an [`Hls`](crate::Hls) stream. Build with [`HlsConfig::new`] and the
/// by-value setters; `.downloader(dl)` (the application's shared downloader) is required.
///
/// ```
/// use std::time::Duration;
/// use kithara_hls::HlsConfig;
/// use kithara_stream::{dl::{Downloader, DownloaderConfig}, AbrMode};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dl = Downloader::new(DownloaderConfig::default())?;
/// let config = HlsConfig::new("https://cdn.example/live/master.m3u8".parse()?)
///     .downloader(dl.clone())
///     .abr_mode(AbrMode::Auto)
///     .max_bitrate(128_000)
///     .buffer_ahead(Duration::from_secs(20));
/// # let _ = config; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HlsConfig {
    /// The master or media playlist URL.
    pub url: Url,
    /// The application's shared downloader. Required. Default: none.
    pub downloader: Option<Downloader>,
    /// Where segments are kept (one resource per segment and init section). Default: memory.
    /// With [`StorageKind::Cache`] a VOD's segments, init sections and playlists are kept in the
    /// persistent cache and replay without the network; live playlists never are (see the crate
    /// documentation, "Cache").
    pub storage: StorageKind,
    /// Extra request headers for every request. Default: none.
    pub headers: HeaderMap,
    /// Longest time one read waits for bytes. Default: 30 s.
    pub wait_timeout: Duration,
    /// Parent cancellation token. Default: a child of the downloader's root.
    pub cancel: Option<CancellationToken>,
    /// Capacity of the events channel. Default: 64.
    pub events_capacity: usize,
    /// Channel to send the stream's events to. Subscribe before `Stream::new` to see the events
    /// of opening (playlists served from the persistent cache, failed revalidations). Default: a
    /// new channel of `events_capacity`.
    pub events: Option<tokio::sync::broadcast::Sender<crate::HlsEvent>>,
    /// Automatic bitrate switching, or a fixed variant. Default: automatic.
    pub abr_mode: AbrMode,
    /// Makes the bitrate policy of each stream. Default: none, i.e. kithara's
    /// [`BufferRule`](crate::abr::BufferRule) with its default settings.
    pub abr_policy: Option<AbrPolicyFactory>,
    /// Highest variant bitrate to choose, in bits per second. Default: none.
    pub max_bitrate: Option<u64>,
    /// Media kept fetched ahead of the reader. Default: 30 s.
    pub buffer_ahead: Duration,
    /// Where a live stream starts, back from the live edge. Default: three target durations.
    pub live_start_offset: Option<Duration>,
    /// Preferred language of `EXT-X-MEDIA TYPE=AUDIO` renditions. Default: the DEFAULT one.
    pub language: Option<String>,
    /// Largest playlist accepted, in bytes. Default: 4 MiB.
    pub max_playlist_bytes: u64,
}

impl HlsConfig {
    /// A configuration with defaults for the playlist at `url`.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            downloader: None,
            storage: StorageKind::Memory,
            headers: HeaderMap::new(),
            wait_timeout: Duration::from_secs(30),
            cancel: None,
            events_capacity: 64,
            events: None,
            abr_mode: AbrMode::Auto,
            abr_policy: None,
            max_bitrate: None,
            buffer_ahead: Duration::from_secs(30),
            live_start_offset: None,
            language: None,
            max_playlist_bytes: DEFAULT_MAX_PLAYLIST_BYTES,
        }
    }

    /// Uses the application's shared downloader (pass a clone).
    #[must_use]
    pub fn downloader(mut self, downloader: Downloader) -> Self {
        self.downloader = Some(downloader);
        self
    }

    /// Keeps segments here.
    #[must_use]
    pub fn storage(mut self, storage: StorageKind) -> Self {
        self.storage = storage;
        self
    }

    /// Adds a request header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the per-read wait budget.
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Makes the stream's cancellation token a child of `parent`.
    #[must_use]
    pub fn cancel_token(mut self, parent: CancellationToken) -> Self {
        self.cancel = Some(parent);
        self
    }

    /// Sends the stream's events to `sender` (subscribe first to see the events of opening).
    #[must_use]
    pub fn event_sender(mut self, sender: tokio::sync::broadcast::Sender<crate::HlsEvent>) -> Self {
        self.events = Some(sender);
        self
    }

    /// Sets the events channel capacity.
    #[must_use]
    pub fn events_capacity(mut self, capacity: usize) -> Self {
        self.events_capacity = capacity.max(1);
        self
    }

    /// Automatic switching or a fixed variant.
    #[must_use]
    pub fn abr_mode(mut self, mode: AbrMode) -> Self {
        self.abr_mode = mode;
        self
    }

    /// Chooses variants with the policy `make` returns (called once per stream opened with this
    /// configuration) instead of kithara's [`BufferRule`](crate::abr::BufferRule). The mode, the
    /// cap and the exclusions after failures still apply: they are part of the policy's
    /// [`AbrContext`](crate::abr::AbrContext).
    ///
    /// ```
    /// use kithara_hls::{abr::{AbrPolicy, ThroughputRule}, HlsConfig};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HlsConfig::new("https://cdn.example/master.m3u8".parse()?)
    ///     .abr_policy(|| Box::new(ThroughputRule::new()) as Box<dyn AbrPolicy>);
    /// # let _ = config; Ok(()) }
    /// ```
    #[must_use]
    pub fn abr_policy(
        mut self,
        make: impl Fn() -> Box<dyn AbrPolicy> + Send + Sync + 'static,
    ) -> Self {
        self.abr_policy = Some(AbrPolicyFactory::new(make));
        self
    }

    /// Caps the variant bitrate (bits per second).
    #[must_use]
    pub fn max_bitrate(mut self, bps: u64) -> Self {
        self.max_bitrate = Some(bps);
        self
    }

    /// Media to keep fetched ahead of the reader.
    #[must_use]
    pub fn buffer_ahead(mut self, ahead: Duration) -> Self {
        self.buffer_ahead = ahead;
        self
    }

    /// Where a live stream starts, back from the live edge.
    #[must_use]
    pub fn live_start_offset(mut self, offset: Duration) -> Self {
        self.live_start_offset = Some(offset);
        self
    }

    /// Preferred audio language (`EXT-X-MEDIA LANGUAGE`).
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Largest playlist accepted, in bytes.
    #[must_use]
    pub fn max_playlist_bytes(mut self, bytes: u64) -> Self {
        self.max_playlist_bytes = bytes;
        self
    }
}
