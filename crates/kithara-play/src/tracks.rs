//! [`Tracks`]: the cancellation tokens (children of the player's root) of the tracks that may
//! still fetch, and the bitrate controls of the HLS ones, owned by the control thread.

use std::collections::HashMap;

use kithara_stream::AbrHandle;
use tokio_util::sync::CancellationToken;

use crate::{msg::AbrSettings, AudioChoice, TrackId};

/// The tracks' cancellation tokens (children of the root) and bitrate controls.
#[derive(Debug)]
pub(crate) struct Tracks {
    root: CancellationToken,
    tokens: HashMap<TrackId, CancellationToken>,
    pub(crate) abr: HashMap<TrackId, AbrHandle>,
    pub(crate) settings: AbrSettings,
    /// The caller's HLS audio rendition choice.
    pub(crate) audio: AudioChoice,
}

impl Tracks {
    pub(crate) fn new(root: CancellationToken, audio: AudioChoice) -> Self {
        Self {
            audio,
            root,
            tokens: HashMap::new(),
            abr: HashMap::new(),
            settings: AbrSettings::default(),
        }
    }

    /// The token of `id` (a new child of the root when it has none or it was cancelled).
    pub(crate) fn token(&mut self, id: TrackId) -> CancellationToken {
        let root = &self.root;
        let token = self.tokens.entry(id).or_insert_with(|| root.child_token());
        if token.is_cancelled() {
            *token = root.child_token();
        }
        token.clone()
    }

    /// Cancels every track's fetches except those of `keep`.
    pub(crate) fn retain(&mut self, keep: &[Option<TrackId>]) {
        self.tokens.retain(|id, token| {
            let kept = keep.contains(&Some(*id));
            if !kept {
                token.cancel();
            }
            kept
        });
        self.abr.retain(|id, _| keep.contains(&Some(*id)));
    }

    /// Applies the caller's ABR settings to a newly opened track.
    pub(crate) fn apply_abr(&self, handle: &AbrHandle) {
        if let Some(mode) = self.settings.mode {
            handle.set_mode(mode);
        }
        if let Some(cap) = self.settings.max_bitrate {
            handle.set_max_bitrate(cap);
        }
    }
}
