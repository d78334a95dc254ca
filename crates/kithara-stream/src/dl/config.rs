//! Configuration of the shared [`Downloader`](super::Downloader).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How failed attempts are retried: exponential backoff with jitter, bounded attempts.
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per command without progress, including the first. The count starts again whenever an
    /// attempt delivered body bytes. Default: 5.
    #[builder(default = 5)]
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further retry. Default: 100 ms.
    #[builder(default = Duration::from_millis(100))]
    pub initial_backoff: Duration,
    /// Upper bound of a backoff delay. Default: 5 s.
    #[builder(default = Duration::from_secs(5))]
    pub max_backoff: Duration,
    /// Fraction of each delay that is randomised (0.0 = none, 1.0 = anywhere in 0..delay). Default: 0.5.
    #[builder(default = 0.5)]
    pub jitter: f64,
    /// Longest `Retry-After` honoured; longer requests are capped to it. Default: 30 s.
    #[builder(default = Duration::from_secs(30))]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 = first retry), jitter applied.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let jitter = self.jitter.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter * fastrand::f64())
    }

    /// The delay before retry number `retry`: the server's `Retry-After` capped to
    /// [`max_retry_after`](Self::max_retry_after) when it sent one, else [`backoff`](Self::backoff).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.backoff(retry),
        }
    }
}

/// Configuration of the shared [`Downloader`](super::Downloader).
#[derive(Debug, Clone, bon::Builder)]
#[non_exhaustive]
pub struct DownloaderConfig {
    /// Fetches in flight across all peers (the connection pool size). Default: 8.
    #[builder(default = 8)]
    pub max_in_flight: usize,
    /// Fetches in flight for one peer. Default: 2.
    #[builder(default = 2)]
    pub max_in_flight_per_peer: usize,
    /// Longest time to establish a connection. Default: 10 s.
    #[builder(default = Duration::from_secs(10))]
    pub connect_timeout: Duration,
    /// Longest silence while waiting for response headers or between body chunks before the attempt
    /// is abandoned and retried. Default: 15 s.
    #[builder(default = Duration::from_secs(15))]
    pub inactivity_timeout: Duration,
    /// Retry policy. Default: [`RetryPolicy::default`].
    #[builder(default)]
    pub retry: RetryPolicy,
    /// Redirects followed per request. Default: 10.
    #[builder(default = 10)]
    pub max_redirects: usize,
    /// `User-Agent` header. Default: `kithara/<version>`.
    #[builder(default = concat!("kithara/", env!("CARGO_PKG_VERSION")).to_string(), into)]
    pub user_agent: String,
    /// Whether proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`) apply.
    /// Default: true.
    #[builder(default = true)]
    pub system_proxy: bool,
    /// Root cancellation token: cancelling it stops every peer and fetch. Default: a fresh token.
    #[builder(default)]
    pub cancel: CancellationToken,
    /// A pre-built HTTP client to use instead of building one from the fields above (its own
    /// timeouts and redirect policy then apply). Default: none.
    pub client: Option<reqwest::Client>,
    /// Runtime that runs the downloader's tasks. Default: the runtime current at `Downloader::new`,
    /// or at `register` if there was none.
    pub runtime: Option<tokio::runtime::Handle>,
}

impl Default for DownloaderConfig {
    fn default() -> Self {
        Self::builder().build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::builder()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1))
            .jitter(0.0)
            .build();
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(400));
        assert_eq!(p.backoff(40), Duration::from_secs(1));
        let capped = RetryPolicy::builder()
            .max_retry_after(Duration::from_secs(2))
            .build();
        assert_eq!(
            capped.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(2)
        );
        assert_eq!(
            capped.delay(1, Some(Duration::from_millis(1500))),
            Duration::from_millis(1500)
        );
        let j = RetryPolicy::builder().jitter(0.5).build();
        for _ in 0..100 {
            let d = j.backoff(2);
            assert!(d <= Duration::from_millis(200) && d >= Duration::from_millis(100));
        }
    }
}
