//! Preloading: the next track opens on its own thread while the current one decodes, its
//! fetches in the background (below the current track's) until it is the one decoded.

use flume::Receiver;
use kithara_stream::FetchPriority;

use super::{DecodeThread, Next};
use crate::{source::TrackSource, Result, TrackId};

/// A track opening on its own thread, its fetches in the background until it is heard.
pub(super) struct Preload {
    pub(super) id: TrackId,
    pub(super) rx: Receiver<Result<Box<dyn TrackSource>>>,
    pub(super) priority: FetchPriority,
    /// The audio rendition choice it was opened with.
    pub(super) audio: crate::AudioChoice,
}

impl DecodeThread {
    /// Opens the next track on its own thread, once.
    pub(super) fn start_preload(&mut self) {
        let Next::Track(next) = &self.next else {
            return;
        };
        if self.preload.as_ref().is_some_and(|p| p.id == next.id) {
            return;
        }
        let (tx, rx) = flume::bounded(1);
        let opener = self.opener.clone();
        let next = next.clone();
        let id = next.id;
        let audio = next.audio.clone();
        let priority = FetchPriority::background();
        let background = priority.clone();
        let spawned = std::thread::Builder::new()
            .name("kithara-play-preload".into())
            .spawn(move || {
                let _ = tx.send(opener.open(&next, &background));
            });
        if spawned.is_ok() {
            tracing::debug!(track = %id, "preloading in the background");
            self.preload = Some(Preload {
                id,
                rx,
                priority,
                audio,
            });
        }
    }
}
