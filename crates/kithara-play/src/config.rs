//! [`PlayerConfig`]: buffering, load control, gapless preloading, ramps and the downloader.

use std::time::Duration;

use kithara_file::{AssetStore, StorageKind};
use kithara_stream::dl::DownloaderConfig;

/// How far the downloads of a track may run ahead of its playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadControl {
    /// At most about this much audio ahead of the reader: HLS through its `buffer_ahead`, a
    /// progressive file through its byte `buffer_ahead`, computed from
    /// [`PlayerConfig::assumed_bitrate`].
    Ahead(Duration),
    /// Download a progressive file whole as fast as the link allows; HLS keeps its own default
    /// (30 s ahead), which its ABR rule also uses as its buffer target.
    Unlimited,
}

/// Which HLS audio rendition (`EXT-X-MEDIA TYPE=AUDIO`) to play, where a variant offers several.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AudioChoice {
    /// The playlist's `DEFAULT=YES` rendition (else its first).
    #[default]
    Default,
    /// The first whose `LANGUAGE` matches (case-insensitive, `en` also matching `en-US`), else
    /// the default.
    Language(String),
    /// The one whose `NAME` matches (case-insensitive), else the default.
    Name(String),
}

impl AudioChoice {
    /// The choice a configuration makes: by name, else by language, else the default.
    pub(crate) fn from_config(config: &PlayerConfig) -> Self {
        match (&config.audio_name, &config.audio_language) {
            (Some(name), _) => Self::Name(name.clone()),
            (None, Some(lang)) => Self::Language(lang.clone()),
            (None, None) => Self::Default,
        }
    }
}

/// Which persistent cache a [`Player`](crate::Player) reads through.
///
/// An [`AssetStore`] converts into [`CacheChoice::Store`], so `.cache(store)` works on the
/// builder.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum CacheChoice {
    /// The store in the platform's cache directory (`AssetStore::open_default`, the one the
    /// command-line tool uses), opened when the player starts; if it cannot be opened (no home
    /// directory, a read-only home) the player reads without a cache, with a warning.
    #[default]
    Default,
    /// No persistent cache: progressive files keep their bytes in
    /// [`storage`](PlayerConfig::storage), HLS in memory.
    Off,
    /// This store.
    Store(AssetStore),
}

impl From<AssetStore> for CacheChoice {
    fn from(store: AssetStore) -> Self {
        Self::Store(store)
    }
}

impl CacheChoice {
    /// The store to read through, opening the default one: `None` when off or unopenable.
    pub(crate) fn resolve(&self) -> Option<AssetStore> {
        match self {
            Self::Default => AssetStore::open_default(),
            Self::Off => None,
            Self::Store(store) => Some(store.clone()),
        }
    }
}

/// Configuration of a [`Player`](crate::Player), built with [`PlayerConfig::builder`].
///
/// ```
/// use std::time::Duration;
/// use kithara_play::{LoadControl, PlayerConfig};
/// let config = PlayerConfig::builder()
///     .start_buffer(Duration::from_millis(500))
///     .load(LoadControl::Unlimited)
///     .build();
/// assert_eq!(config.preload, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct PlayerConfig {
    /// Decoded audio needed before playback starts, and resumes after an underrun. Default: 1 s.
    #[builder(default = Duration::from_secs(1))]
    pub start_buffer: Duration,
    /// Capacity of the ring between the decoding thread and the sink, as time at the sink's
    /// rate; raised to twice the start buffer when smaller. Default: 2 s.
    #[builder(default = Duration::from_secs(2))]
    pub ring: Duration,
    /// The next track is opened and pre-buffered when the current track's decoding is this close
    /// to its (declared) end. Default: 10 s.
    #[builder(default = Duration::from_secs(10))]
    pub preload: Duration,
    /// How far downloads run ahead of playback. Default: 60 s ahead.
    #[builder(default = LoadControl::Ahead(Duration::from_secs(60)))]
    pub load: LoadControl,
    /// The bitrate assumed for a progressive file when turning [`LoadControl::Ahead`] into bytes
    /// (the real one is known only after the file opened), in bits per second. Default: 320 kbit/s,
    /// so a lower-rate file is buffered further ahead in time, never less.
    #[builder(default = 320_000)]
    pub assumed_bitrate: u64,
    /// Length of the gain ramp of a volume change, a pause and a resume. Default: 20 ms.
    #[builder(default = Duration::from_millis(20))]
    pub volume_ramp: Duration,
    /// Interval of [`Event::Position`](crate::Event::Position) ticks while playing. Default: 100 ms.
    #[builder(default = Duration::from_millis(100))]
    pub tick: Duration,
    /// Longest time one read of a stream waits for bytes before the track fails. Default: 30 s.
    #[builder(default = Duration::from_secs(30))]
    pub wait_timeout: Duration,
    /// The shared downloader's configuration; its `cancel` and `runtime` are replaced by the
    /// player's own. Default: [`DownloaderConfig::default`].
    #[builder(default)]
    pub downloader: DownloaderConfig,
    /// Where progressive files keep their bytes when there is no [`cache`](Self::cache)
    /// ([`CacheChoice::Off`], or a default store that cannot be opened).
    /// Default: [`StorageKind::TempFile`].
    #[builder(default)]
    pub storage: StorageKind,
    /// The persistent cache every track (file or HLS) reads through: a track played once plays
    /// again without the network as the store's freshness allows. Default:
    /// [`CacheChoice::Default`], the platform's cache directory.
    #[builder(default, into)]
    pub cache: CacheChoice,
    /// Preferred language of HLS audio renditions (`EXT-X-MEDIA LANGUAGE`). Default: the
    /// playlist's `DEFAULT` rendition.
    #[builder(into)]
    pub audio_language: Option<String>,
    /// The HLS audio rendition to play by its `NAME` (`EXT-X-MEDIA NAME`), over
    /// `audio_language`; change it while playing with
    /// [`PlayerHandle::set_audio`](crate::PlayerHandle::set_audio). Default: none.
    #[builder(into)]
    pub audio_name: Option<String>,
    /// Seed of the shuffle order, for reproducible runs. Default: random.
    pub shuffle_seed: Option<u64>,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}
