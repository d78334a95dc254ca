//! [`HlsConfig`]: what to open and how, a `bon` builder like every other config.

use std::time::Duration;

use kithara_storage::StorageKind;
use kithara_stream::{dl::Downloader, AbrMode, StreamOptions};
use url::Url;

use crate::{
    abr::{AbrPolicy, AbrPolicyFactory},
    playlist::DEFAULT_MAX_PLAYLIST_BYTES,
    HlsEvent,
};

/// Configuration of an [`Hls`](crate::Hls) stream: a `bon` builder whose `url` and `downloader`
/// (the application's shared [`Downloader`]) are required, so a config without a downloader does
/// not compile. The options every protocol shares (storage, headers, wait budget, cancel token,
/// events channel) are one [`StreamOptions`] in [`options`](Self::options).
///
/// ```
/// use std::time::Duration;
/// use kithara_hls::HlsConfig;
/// use kithara_stream::{dl::{Downloader, DownloaderConfig}, AbrMode, StreamOptions};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dl = Downloader::new(DownloaderConfig::default())?;
/// let config = HlsConfig::builder()
///     .url("https://cdn.example/live/master.m3u8".parse()?)
///     .downloader(dl.clone())
///     .abr_mode(AbrMode::Auto)
///     .max_bitrate(128_000)
///     .buffer_ahead(Duration::from_secs(20))
///     .options(StreamOptions::builder().wait_timeout(Duration::from_secs(10)).build())
///     .build();
/// # let _ = config; Ok(()) }
/// ```
///
/// Without a downloader it does not compile:
///
/// ```compile_fail
/// use kithara_hls::HlsConfig;
/// let config = HlsConfig::builder()
///     .url("https://cdn.example/master.m3u8".parse().unwrap())
///     .build();
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct HlsConfig {
    /// The master or media playlist URL.
    pub url: Url,
    /// The application's shared downloader (pass a clone). Required.
    pub downloader: Downloader,
    /// The options every protocol shares. Default: [`StreamOptions::default`] (storage: memory,
    /// one resource per segment and init section). With [`StorageKind::Cache`](kithara_storage::StorageKind::Cache)
    /// a VOD's segments, init sections and playlists are kept in the persistent cache and replay
    /// without the network; live playlists never are (see the crate documentation, "Cache").
    #[builder(default)]
    pub options: StreamOptions<HlsEvent>,
    /// Automatic bitrate switching, or a fixed variant. Default: automatic.
    #[builder(default)]
    pub abr_mode: AbrMode,
    /// Makes the bitrate policy of each stream (called once per stream opened with this
    /// configuration) instead of kithara's [`BufferRule`](crate::abr::BufferRule) with its
    /// default settings. The mode, the cap and the exclusions after failures still apply: they
    /// are part of the policy's [`AbrContext`](crate::abr::AbrContext). Default: none.
    ///
    /// ```
    /// use kithara_hls::{abr::{AbrPolicy, ThroughputRule}, HlsConfig};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dl = kithara_stream::dl::Downloader::new(Default::default())?;
    /// let config = HlsConfig::builder()
    ///     .url("https://cdn.example/master.m3u8".parse()?)
    ///     .downloader(dl)
    ///     .abr_policy(|| Box::new(ThroughputRule::new()) as Box<dyn AbrPolicy>)
    ///     .build();
    /// # let _ = config; Ok(()) }
    /// ```
    #[builder(with = |make: impl Fn() -> Box<dyn AbrPolicy> + Send + Sync + 'static| AbrPolicyFactory::new(make))]
    pub abr_policy: Option<AbrPolicyFactory>,
    /// Highest variant bitrate to choose, in bits per second. Default: none.
    pub max_bitrate: Option<u64>,
    /// Media kept fetched ahead of the reader. Default: 30 s.
    #[builder(default = Duration::from_secs(30))]
    pub buffer_ahead: Duration,
    /// Where a live stream starts, back from the live edge. Default: three target durations.
    pub live_start_offset: Option<Duration>,
    /// Preferred language of `EXT-X-MEDIA TYPE=AUDIO` renditions (`EXT-X-MEDIA LANGUAGE`).
    /// Default: the DEFAULT one.
    #[builder(into)]
    pub language: Option<String>,
    /// The `EXT-X-MEDIA TYPE=AUDIO` rendition to play by its `NAME` (case-insensitive); it wins
    /// over `language` where a group has it. Default: none.
    #[builder(into)]
    pub audio_name: Option<String>,
    /// Largest playlist accepted, in bytes. Default: 4 MiB.
    #[builder(default = DEFAULT_MAX_PLAYLIST_BYTES)]
    pub max_playlist_bytes: u64,
}

impl HlsConfig {
    /// The storage segments are kept in: the configured one, else memory.
    pub fn storage(&self) -> StorageKind {
        self.options.storage_or(StorageKind::Memory)
    }
}
