//! [`RadioConfig`]: how a file stream treats an endless body (internet radio).

use std::time::Duration;

/// Whether a remote file is read as an endless stream (a radio).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endless {
    /// Detected from the first response: no length (`Content-Length` or `Content-Range`) and
    /// either `icy-*` headers or an audio `Content-Type` without `Accept-Ranges`. The first
    /// request then ends at its headers and the station is requested again as a radio (one
    /// extra request, for a stream that lasts hours).
    #[default]
    Auto,
    /// Always a radio: no detection, one request.
    Always,
    /// Never: a body without a length is a file whose end is not known yet.
    Never,
}

/// A size in bytes, or in seconds of audio (converted with the station's `icy-br`, else the
/// configured default bitrate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RingSize {
    /// This many bytes.
    Bytes(u64),
    /// This many seconds of audio.
    Seconds(u32),
}

impl RingSize {
    /// The size in bytes at `kbps` kbit/s (at least `floor`).
    pub fn bytes_at(self, kbps: u32, floor: u64) -> u64 {
        let bytes = match self {
            Self::Bytes(b) => b,
            Self::Seconds(s) => u64::from(s)
                .checked_mul(u64::from(kbps))
                .and_then(|v| v.checked_mul(1000 / 8))
                .unwrap_or(u64::MAX),
        };
        bytes.max(floor)
    }
}

/// How an endless stream (an internet radio) is read: detection, the ring that holds it, ICY
/// metadata, the stall watchdog and reconnects. A `bon` builder; [`Default`] is the builder's
/// defaults.
///
/// ```
/// use std::time::Duration;
/// use kithara_file::{Endless, RadioConfig, RingSize};
/// let radio = RadioConfig::builder()
///     .endless(Endless::Always)
///     .ring(RingSize::Seconds(60))
///     .stall_timeout(Duration::from_secs(3))
///     .build();
/// assert!(radio.icy);
/// ```
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct RadioConfig {
    /// Whether the body is read as a radio. Default: [`Endless::Auto`].
    #[builder(default)]
    pub endless: Endless,
    /// The ring's size. Default: 30 s of audio.
    #[builder(default = RingSize::Seconds(30))]
    pub ring: RingSize,
    /// How much of the ring stays behind the reader for seeking back: at least 64 KiB (what a
    /// decoder's probe and a scan for the next file back to back seek back over), at most half
    /// the ring. Default: 10 s of audio.
    #[builder(default = RingSize::Seconds(10))]
    pub keep_behind: RingSize,
    /// Ask for ICY metadata (`Icy-MetaData: 1`) and take the blocks out of the audio. Default:
    /// on.
    #[builder(default = true)]
    pub icy: bool,
    /// The bitrate (kbit/s) seconds are converted with when the station sends no `icy-br`.
    /// Default: 128.
    #[builder(default = 128)]
    pub default_bitrate_kbps: u32,
    /// How long the station may send nothing before the connection is given up and made again
    /// (the stall watchdog). Default: 5 s.
    #[builder(default = Duration::from_secs(5))]
    pub stall_timeout: Duration,
    /// Reconnects in a row that may fail without bringing a byte before the stream fails with
    /// [`Error::RadioGaveUp`](crate::Error::RadioGaveUp). Default: 8.
    #[builder(default = 8)]
    pub reconnects: u32,
    /// The wait before the first reconnect; it doubles with each failed one, up to 8 s.
    /// Default: 250 ms.
    #[builder(default = Duration::from_millis(250))]
    pub backoff: Duration,
}

/// The least a radio's ring keeps behind its reader: a decoder's probe rewinds to the start of
/// what it read, and the scan for the next file of a stream of files back to back seeks back up
/// to 32 KiB.
pub const MIN_KEEP_BEHIND: u64 = 64 * 1024;

impl Default for RadioConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl RadioConfig {
    /// The ring's capacity (at least 128 KiB) and the part kept behind the reader (at least
    /// [`MIN_KEEP_BEHIND`], at most half the capacity), in bytes, at `kbps` (the station's
    /// `icy-br`, else the default).
    pub fn ring_bytes(&self, kbps: Option<u32>) -> (u64, u64) {
        let kbps = kbps.filter(|&k| k > 0).unwrap_or(self.default_bitrate_kbps);
        let capacity = self.ring.bytes_at(kbps, 2 * MIN_KEEP_BEHIND);
        let behind = self
            .keep_behind
            .bytes_at(kbps, MIN_KEEP_BEHIND)
            .min(capacity / 2);
        (capacity, behind)
    }

    /// The wait before reconnect number `n` (from 1).
    pub(crate) fn backoff_for(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(Duration::from_secs(8))
    }
}
