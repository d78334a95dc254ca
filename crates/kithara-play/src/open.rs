//! Opening a [`Track`] into a [`TrackSource`]: the one module that knows today's
//! kithara-file, kithara-hls and kithara-decode APIs. When a one-call open ("URL or path +
//! downloader → a decoder over a type-erased stream") exists, only this module changes.
//!
//! The protocol is chosen as the CLI does: an http(s) URL ending in `.m3u8` opens as HLS;
//! anything else as a progressive file, unless the server answers with a playlist MIME type
//! (then that stream is dropped and the URL opens as HLS).

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{AssetStore, File, FileConfig, FileSrc, StorageKind};
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{
    dl::Downloader, FetchPriority, RedactedUrl, Source as _, Stream, StreamOptions,
};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{AudioChoice, LoadControl},
    msg::{AbrSettings, TrackRef},
    source::TrackSource,
    Error, Result,
};

/// Smallest byte budget ahead of the reader for a progressive file (kithara-file uses at least
/// 64 KiB anyway).
const MIN_AHEAD_BYTES: u64 = 256 * 1024;

/// What opening needs; cheap to clone (one per preload thread).
#[derive(Debug, Clone)]
pub(crate) struct Opener {
    pub(crate) runtime: Handle,
    pub(crate) downloader: Downloader,
    pub(crate) load: LoadControl,
    pub(crate) assumed_bitrate: u64,
    pub(crate) wait_timeout: Duration,
    pub(crate) storage: StorageKind,
    pub(crate) cache: Option<AssetStore>,
}

impl Opener {
    /// Opens and probes `track` on the calling (blocking) thread, an HLS stream with the caller's
    /// ABR settings, its fetches at `priority` (a preload's is the background until it is heard).
    /// The track's token ends the open at once when cancelled, and later every read and fetch of
    /// the stream.
    pub(crate) fn open(
        &self,
        track: &TrackRef,
        priority: &FetchPriority,
    ) -> Result<Box<dyn TrackSource>> {
        let TrackRef {
            track,
            cancel,
            abr,
            audio,
            ..
        } = track;
        let label = track.label();
        if let Some(make) = track.take_opened() {
            let make = make.ok_or_else(|| Error::Consumed {
                label: label.clone(),
            })?;
            return make().map_err(|source| Error::Decode { label, source });
        }
        let Some(src) = track.src() else {
            return Err(Error::Consumed { label });
        };
        if track.is_named_hls() {
            return self.open_hls(src, label, (cancel, priority), (*abr, audio));
        }
        let storage = match &self.cache {
            Some(store) => StorageKind::Cache(store.clone()),
            None => self.storage.clone(),
        };
        let config = FileConfig::from_src(src.clone(), &self.downloader)
            .options(self.options(Some(storage), cancel, priority))
            .maybe_buffer_ahead(self.ahead_bytes(self.assumed_bitrate))
            .build();
        let stream = self.block_on(Stream::<File>::new(config), &label, cancel)?;
        if kithara_file_serves_playlist(&stream) {
            tracing::debug!(url = %label, "the server answered with a playlist: opening as HLS");
            drop(stream);
            return self.open_hls(src, label, (cancel, priority), (*abr, audio));
        }
        let origin = match src {
            FileSrc::Remote(url) => Some(RedactedUrl::new(url)),
            _ => None,
        };
        let config = DecoderConfig::builder().maybe_origin(origin).build();
        let decoder =
            Decoder::new(stream, config).map_err(|source| Error::Decode { label, source })?;
        self.set_real_budget(&decoder);
        Ok(Box::new(decoder))
    }

    /// Once the decoder knows the file's duration, turns the time ahead into bytes at the file's
    /// real (average) bitrate instead of the assumed one.
    fn set_real_budget(&self, decoder: &Decoder<File>) {
        let Some(duration) = decoder.info().duration.filter(|d| !d.is_zero()) else {
            return;
        };
        decoder.with_stream(|s| {
            let Some(len) = s.source().len() else {
                return;
            };
            let bits = u128::from(len) * 8 * 1000 / duration.as_millis().max(1);
            let bitrate = u64::try_from(bits).unwrap_or(u64::MAX);
            let bytes = self.ahead_bytes(bitrate);
            tracing::debug!(bitrate, ahead = ?bytes, "buffer ahead from the real bitrate");
            s.source().set_buffer_ahead(bytes);
        });
    }

    fn open_hls(
        &self,
        src: &FileSrc,
        label: String,
        (cancel, priority): (&CancellationToken, &FetchPriority),
        (abr, audio): (AbrSettings, &AudioChoice),
    ) -> Result<Box<dyn TrackSource>> {
        let FileSrc::Remote(url) = src else {
            return Err(Error::HlsNotRemote { label });
        };
        let ahead = match self.load {
            LoadControl::Ahead(ahead) => Some(ahead),
            LoadControl::Unlimited => None,
        };
        let storage = self.cache.clone().map(StorageKind::Cache);
        let config = HlsConfig::builder()
            .url(url.clone())
            .downloader(self.downloader.clone())
            .options(self.options(storage, cancel, priority))
            .maybe_buffer_ahead(ahead)
            .maybe_language(match audio {
                AudioChoice::Language(l) => Some(l.clone()),
                _ => None,
            })
            .maybe_audio_name(match audio {
                AudioChoice::Name(n) => Some(n.clone()),
                _ => None,
            })
            .maybe_abr_mode(abr.mode)
            .maybe_max_bitrate(abr.max_bitrate.flatten())
            .build();
        let stream = self.block_on(Stream::<Hls>::new(config), &label, cancel)?;
        let config = DecoderConfig::builder()
            .origin(RedactedUrl::new(url))
            .build();
        let decoder =
            Decoder::new(stream, config).map_err(|source| Error::Decode { label, source })?;
        Ok(Box::new(decoder))
    }

    /// The options every protocol shares: storage (`None`: the protocol's default), the wait
    /// budget, the track's token as the stream's parent, the fetch priority.
    fn options<E>(
        &self,
        storage: Option<StorageKind>,
        cancel: &CancellationToken,
        priority: &FetchPriority,
    ) -> StreamOptions<E> {
        StreamOptions::builder()
            .maybe_storage(storage)
            .wait_timeout(self.wait_timeout)
            .cancel(cancel.clone())
            .priority(priority.clone())
            .build()
    }

    /// The byte budget ahead of the reader for a progressive file of `bitrate` bits per second.
    fn ahead_bytes(&self, bitrate: u64) -> Option<u64> {
        match self.load {
            LoadControl::Ahead(ahead) => {
                let bytes = u128::from(bitrate / 8) * ahead.as_millis() / 1000;
                Some(
                    u64::try_from(bytes)
                        .unwrap_or(u64::MAX)
                        .max(MIN_AHEAD_BYTES),
                )
            }
            LoadControl::Unlimited => None,
        }
    }

    /// Runs an opening future on the player's runtime from this blocking thread, ended at once
    /// by `cancel`.
    fn block_on<S>(
        &self,
        open: impl std::future::Future<Output = kithara_stream::Result<S>>,
        label: &str,
        cancel: &CancellationToken,
    ) -> Result<S> {
        let outcome = self.runtime.block_on(async {
            tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                r = open => Some(r),
            }
        });
        match outcome {
            None => Err(Error::Cancelled {
                label: label.to_owned(),
            }),
            Some(r) => r.map_err(|source| Error::Open {
                label: label.to_owned(),
                source,
            }),
        }
    }
}

/// Whether a file stream turned out to be served as an HLS playlist (`Content-Type`).
fn kithara_file_serves_playlist(stream: &Stream<File>) -> bool {
    let Some(ct) = stream.source().content_type() else {
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
