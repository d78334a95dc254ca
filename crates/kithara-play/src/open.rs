//! Opening a [`Track`](crate::Track) into a [`TrackSource`] through kithara-open's one-call open
//! (`kithara_open::open_decoder`, which picks progressive file or HLS as the CLI does: an
//! http(s) URL ending in `.m3u8` opens as HLS; anything else as a progressive file, unless the
//! server answers with a playlist MIME type). This module only turns the player's settings
//! (load control, cache, ABR, audio rendition, fetch priority) into `kithara_open::OpenOptions`.

use std::time::Duration;

use kithara_file::{AssetStore, StorageKind};
use kithara_open::{AnyDecoder, HlsOptions, OpenOptions};
use kithara_stream::{dl::Downloader, FetchPriority, Source as _};
use tokio::runtime::Handle;

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
        let options = OpenOptions::builder()
            .downloader(self.downloader.clone())
            .wait_timeout(self.wait_timeout)
            .maybe_storage(self.cache.clone().map(StorageKind::Cache))
            .maybe_file_storage(self.cache.is_none().then(|| self.storage.clone()))
            .maybe_file_buffer_ahead(self.ahead_bytes(self.assumed_bitrate))
            .hls(self.hls_options(*abr, audio))
            .priority(priority.clone())
            .cancel(cancel.clone())
            .build();
        let opened = self.runtime.block_on(async {
            tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                r = kithara_open::open_decoder(src.clone(), options) => Some(r),
            }
        });
        let decoder = match opened {
            None => return Err(Error::Cancelled { label }),
            Some(Ok(decoder)) => decoder,
            Some(Err(e)) => return Err(open_error(label, e)),
        };
        self.set_real_budget(&decoder);
        Ok(Box::new(decoder))
    }

    /// The HLS options of a track: buffer ahead from the load control, the caller's ABR
    /// settings (a fixed variant is ignored by a progressive file), the audio rendition.
    fn hls_options(&self, abr: AbrSettings, audio: &AudioChoice) -> HlsOptions {
        let (language, name) = match audio {
            AudioChoice::Language(l) => (Some(l.clone()), None),
            AudioChoice::Name(n) => (None, Some(n.clone())),
            _ => (None, None),
        };
        HlsOptions::builder()
            .maybe_buffer_ahead(match self.load {
                LoadControl::Ahead(ahead) => Some(ahead),
                LoadControl::Unlimited => None,
            })
            .maybe_abr_mode(abr.mode)
            .maybe_max_bitrate(abr.max_bitrate.flatten())
            .maybe_audio_language(language)
            .maybe_audio_name(name)
            .fixed_variant_required(false)
            .build()
    }

    /// Once the decoder of a progressive file knows its duration, turns the time ahead into
    /// bytes at the file's real (average) bitrate instead of the assumed one.
    fn set_real_budget(&self, decoder: &AnyDecoder) {
        let Some(duration) = decoder.info().duration.filter(|d| !d.is_zero()) else {
            return;
        };
        decoder.with_stream(|s| {
            let (Some(file), Some(len)) = (s.source().as_file(), s.source().len()) else {
                return;
            };
            let bits = u128::from(len) * 8 * 1000 / duration.as_millis().max(1);
            let bitrate = u64::try_from(bits).unwrap_or(u64::MAX);
            let bytes = self.ahead_bytes(bitrate);
            tracing::debug!(bitrate, ahead = ?bytes, "buffer ahead from the real bitrate");
            file.set_buffer_ahead(bytes);
        });
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
}

/// The player's error for a failed open: the stream's and the decoder's errors as before, a
/// local playlist as [`Error::HlsNotRemote`], anything else kithara-open refuses as
/// [`Error::Refused`].
fn open_error(label: String, e: kithara_open::Error) -> Error {
    match e {
        kithara_open::Error::Stream { source, .. } => Error::Open { label, source },
        kithara_open::Error::Decode { source, .. } => Error::Decode { label, source },
        kithara_open::Error::LocalPlaylist { .. } => Error::HlsNotRemote { label },
        source => Error::Refused {
            label,
            source: Box::new(source),
        },
    }
}
