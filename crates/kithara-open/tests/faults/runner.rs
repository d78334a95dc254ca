//! The one runner of the fault matrix: a fresh server and downloader per case, the fault
//! installed on the case's target, the stream opened and decoded through `open_decoder`, then
//! the outcome, the budget and the downloader's counters checked.

use std::{
    error::Error as StdError,
    sync::Arc,
    time::{Duration, Instant},
};

use kithara_open::{open_decoder, OpenOptions};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig, RetryPolicy},
    ErrorClass,
};
use kithara_test_support::{media, LoopbackServer, RequestRecord, Route};

/// Longest time a case may take before it counts as a hang. Far above what any case needs (its
/// budgets below add up to a few seconds), so a busy machine cannot trip it.
pub(crate) const HANG: Duration = Duration::from_secs(60);
/// A reader's longest wait: above every downloader budget, so a typed download error arrives
/// before it and a `WaitTimeout` means the downloader did not give up when it should have.
const WAIT: Duration = Duration::from_secs(20);
/// Silence after which an attempt is abandoned. Long enough that a loaded machine never trips
/// it on a server that answers.
pub(crate) const INACTIVITY: Duration = Duration::from_millis(1500);
/// Attempts per command without progress.
pub(crate) const ATTEMPTS: u32 = 3;
/// The cap of a `Retry-After`.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_millis(300);
/// Redirects followed per request.
pub(crate) const REDIRECTS: usize = 4;
/// Segments of the shortened HLS playlists (the fault hits segment [`SEG`]).
const SEGMENTS: usize = 5;
/// The segment the HLS faults hit.
pub(crate) const SEG: usize = 2;

/// A stream kind of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Stream<File>` over an MP3.
    File,
    /// HLS, MPEG-TS segments.
    Ts,
    /// HLS, fragmented MP4 with an init segment.
    Fmp4,
    /// HLS, AES-128 encrypted TS.
    Aes,
    /// HLS, `EXT-X-BYTERANGE` slices of one TS file.
    ByteRange,
}

impl Kind {
    /// Every kind.
    pub(crate) const ALL: [Kind; 5] =
        [Kind::File, Kind::Ts, Kind::Fmp4, Kind::Aes, Kind::ByteRange];
    /// The HLS kinds.
    pub(crate) const HLS: [Kind; 4] = [Kind::Ts, Kind::Fmp4, Kind::Aes, Kind::ByteRange];

    /// The bundled media directory of an HLS kind.
    fn dir(self) -> &'static str {
        match self {
            Kind::File | Kind::Ts => "ts",
            Kind::Fmp4 => "fmp4",
            Kind::Aes => "aes",
            Kind::ByteRange => "byterange",
        }
    }

    /// The path that is opened.
    pub(crate) fn entry(self) -> String {
        match self {
            Kind::File => "/media/chirp.mp3".into(),
            k => format!("/media/hls/{}/short.m3u8", k.dir()),
        }
    }

    /// The media object the faults hit: the file, or segment [`SEG`] (the one shared file of
    /// the byte-range kind).
    pub(crate) fn target(self) -> String {
        match self {
            Kind::File => "/media/chirp.mp3".into(),
            Kind::ByteRange => "/media/hls/byterange/v0.ts".into(),
            Kind::Fmp4 => format!("/media/hls/fmp4/v0-{SEG:02}.m4s"),
            k => format!("/media/hls/{}/v0-{SEG:02}.ts", k.dir()),
        }
    }

    /// The playlist that is opened (HLS kinds).
    pub(crate) fn playlist(self) -> String {
        format!("/media/hls/{}/short.m3u8", self.dir())
    }
}

/// The bundled file behind a `/media/…` path, as a route (panics on a path that is none: a
/// mistake in the table).
pub(crate) fn original(path: &str) -> Route {
    let name = path.trim_start_matches("/media/");
    media::get(name)
        .map(|f| f.route())
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// The bytes of the bundled file behind a `/media/…` path.
pub(crate) fn bytes(path: &str) -> &'static [u8] {
    let name = path.trim_start_matches("/media/");
    media::get(name)
        .map(|f| f.bytes)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// The first [`SEGMENTS`] segments of a bundled media playlist, with `ENDLIST`.
fn shortened(text: &str) -> String {
    let mut out = String::new();
    let mut uris = 0;
    for line in text.lines() {
        if line == "#EXT-X-ENDLIST" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if !line.starts_with('#') && !line.trim().is_empty() {
            uris += 1;
            if uris == SEGMENTS {
                break;
            }
        }
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// The shortened playlist served at `path` (`/media/hls/<dir>/short.m3u8`).
pub(crate) fn shortened_playlist(path: &str) -> String {
    let full = path.replace("short.m3u8", "v0.m3u8");
    shortened(std::str::from_utf8(bytes(&full)).unwrap())
}

/// A server with the bundled media and the shortened playlists.
pub(crate) fn media_server() -> LoopbackServer {
    let server = LoopbackServer::start().unwrap();
    server.mount_media("/media");
    for kind in Kind::HLS {
        let p = kind.playlist();
        let route =
            Route::new(shortened_playlist(&p)).content_type("application/vnd.apple.mpegurl");
        server.route(&p, route);
    }
    server
}

/// The downloader of every case: small budgets so the suite is fast.
pub(crate) fn downloader() -> Downloader {
    let retry = RetryPolicy::builder()
        .max_attempts(ATTEMPTS)
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(100))
        .jitter(0.0)
        .max_retry_after(RETRY_AFTER_CAP)
        .build();
    let config = DownloaderConfig::builder()
        .inactivity_timeout(INACTIVITY)
        .retry(retry)
        .max_redirects(REDIRECTS)
        .system_proxy(false)
        .build();
    Downloader::new(config).unwrap()
}

/// Where an error came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `open_decoder` failed.
    Open,
    /// `next_chunk` failed.
    Decode,
}

/// An error of a run: where, its class, the error itself.
pub(crate) struct Failure {
    pub(crate) stage: Stage,
    pub(crate) class: ErrorClass,
    pub(crate) error: Arc<dyn StdError + Send + Sync>,
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut chain = format!("{}", self.error);
        let mut cur = self.error.source();
        while let Some(e) = cur {
            chain.push_str(&format!(": {e}"));
            cur = e.source();
        }
        write!(f, "{:?} at {:?}: {chain}", self.class, self.stage)
    }
}

/// What a run gave: every sample, or a failure.
pub(crate) type Outcome = Result<Vec<f32>, Failure>;

/// Opens `url` and decodes it to the end on the blocking pool.
pub(crate) async fn decode(url: url::Url, dl: &Downloader) -> Outcome {
    let options = OpenOptions::builder()
        .downloader(dl.clone())
        .wait_timeout(WAIT)
        .build();
    let mut decoder = match open_decoder(url, options).await {
        Ok(d) => d,
        Err(e) => {
            return Err(Failure {
                stage: Stage::Open,
                class: e.class(),
                error: Arc::new(e),
            })
        }
    };
    tokio::task::spawn_blocking(move || {
        let mut samples = Vec::new();
        loop {
            match decoder.next_chunk() {
                Ok(Some(chunk)) => samples.extend_from_slice(&chunk.samples),
                Ok(None) => return Ok(samples),
                Err(e) => {
                    return Err(Failure {
                        stage: Stage::Decode,
                        class: e.class(),
                        error: Arc::new(e),
                    })
                }
            }
        }
    })
    .await
    .unwrap()
}

/// What one run observed besides its outcome.
pub(crate) struct Observed {
    pub(crate) outcome: Outcome,
    pub(crate) took: Duration,
    pub(crate) requests: Vec<RequestRecord>,
}

/// Runs the stream of `kind` on `server` with a fresh downloader, then checks that the
/// downloader winds down: every peer and fetch task ended, every command's `on_complete` ran
/// exactly once.
pub(crate) async fn run(server: &LoopbackServer, kind: Kind, label: &str) -> Observed {
    run_path(server, &kind.entry(), label).await
}

/// [`run`] on the stream at `path`.
pub(crate) async fn run_path(server: &LoopbackServer, path: &str, label: &str) -> Observed {
    let dl = downloader();
    let started = Instant::now();
    let outcome = tokio::time::timeout(HANG, decode(server.url(path), &dl))
        .await
        .unwrap_or_else(|_| panic!("{label}: no outcome within {HANG:?}: a hang"));
    let took = started.elapsed();
    tokio::time::timeout(HANG, dl.idle())
        .await
        .unwrap_or_else(|_| panic!("{label}: the downloader never wound down: {:?}", dl.stats()));
    let stats = dl.stats();
    assert!(stats.commands_issued > 0, "{label}: {stats:?}");
    assert_eq!(
        stats.completions_reported, stats.commands_issued,
        "{label}: every command's on_complete ran exactly once"
    );
    assert_eq!((stats.peers_alive, stats.fetch_tasks), (0, 0), "{label}");
    Observed {
        outcome,
        took,
        requests: server.requests(),
    }
}
