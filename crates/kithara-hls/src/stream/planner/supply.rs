//! Where the planner's pieces come from: the variant set (the ladder and each variant's latest
//! media playlist; loads and reloads are inputs), which media playlists are loading, which variants are
//! excluded after a failure (time is an input), which key URIs are fetched, in flight, ready or
//! failed, and the live reload schedule. Plain data, stepped by the planner's inputs.

use std::time::Instant;

use kithara_stream::Error;

use super::{Planner, Reload};
use crate::{
    abr::{ExclusionConfig, Exclusions},
    keys::KeyCache,
    playlist::MediaPlaylist,
    stream::{variants::VariantSet, HlsEvent},
};

/// What the planner knows of its sources (see the module docs).
#[derive(Debug)]
pub(super) struct Supply {
    set: VariantSet,
    /// Whether the stream started live: its times are then counted from where it started, also
    /// after `ENDLIST` appears (playlist times slide with the window).
    started_live: bool,
    pub(super) reload: Reload,
    /// Variants whose media playlist is being loaded.
    loading: Vec<usize>,
    exclusions: Exclusions,
    keys: KeyCache,
}

impl Default for Supply {
    fn default() -> Self {
        Self {
            set: VariantSet::empty(),
            started_live: false,
            reload: Reload::default(),
            loading: Vec::new(),
            exclusions: Exclusions::new(0, ExclusionConfig::default()),
            keys: KeyCache::new(),
        }
    }
}

impl<T, F> Planner<T, F> {
    /// The planner of the variants of `set` (each may be excluded after a failure).
    pub(crate) fn with_set(mut self, set: VariantSet) -> Self {
        self.supply.exclusions = Exclusions::new(set.len(), ExclusionConfig::default());
        self.supply.started_live = set.is_live();
        self.supply.set = set;
        self
    }

    /// The planner of a ladder of `variants` with no playlists (for tests).
    #[cfg(test)]
    pub(crate) fn with_variants(mut self, variants: usize) -> Self {
        self.supply.exclusions = Exclusions::new(variants, ExclusionConfig::default());
        self
    }

    /// Whether the stream started live (see [`Supply`]).
    pub(crate) fn started_live(&self) -> bool {
        self.supply.started_live
    }

    /// The variants: the ladder and each one's latest media playlist.
    pub(crate) fn variants(&self) -> &VariantSet {
        &self.supply.set
    }

    /// Input: `variant`'s media playlist loaded (for the first time or again). It replaces the
    /// snapshot before; answers `PlaylistLoaded` or `PlaylistReloaded` (see
    /// [`Planner::playlist_loaded`]).
    pub(crate) fn install_playlist(&mut self, variant: usize, p: MediaPlaylist) {
        let first = self.supply.set.playlist(variant).is_none();
        let changed = self.supply.set.install(variant, p);
        self.playlist_loaded(variant, first, changed);
    }

    /// Input: the next segment is of `variant`, whose media playlist is not loaded. Answers
    /// whether to fetch it (`false` while a load of it runs); from now on it is loading.
    pub(crate) fn load_playlist(&mut self, variant: usize) -> bool {
        if self.supply.loading.contains(&variant) {
            return false;
        }
        self.supply.loading.push(variant);
        true
    }

    /// Input: the load of `variant`'s media playlist ended (loaded or failed).
    pub(crate) fn playlist_arrived(&mut self, variant: usize) {
        self.supply.loading.retain(|&v| v != variant);
    }

    /// Which variants are excluded at `now`, by index.
    pub(crate) fn excluded_mask(&self, now: Instant) -> Vec<bool> {
        self.supply.exclusions.mask(now)
    }

    /// Input: `variant` failed with `error` at `now`. It is excluded for a while (answers
    /// `VariantExcluded`); answers the variant to fetch the same segment from (`ladder`: the
    /// bitrates), `None` when every other one is excluded.
    pub(crate) fn exclude(
        &mut self,
        variant: usize,
        error: Error,
        ladder: &[u64],
        now: Instant,
    ) -> Option<usize> {
        self.supply.exclusions.exclude(variant, now);
        self.events
            .push(HlsEvent::VariantExcluded { variant, error });
        self.supply.exclusions.failover(variant, ladder, now)
    }

    /// Input: a piece of `variant` arrived: its next failure counts as the first again.
    pub(crate) fn succeeded(&mut self, variant: usize) {
        self.supply.exclusions.succeeded(variant);
    }

    /// Which key URIs are fetched, in flight, ready or failed.
    pub(crate) fn keys(&self) -> &KeyCache {
        &self.supply.keys
    }

    /// Every queued piece, with the key states (to decrypt what waits for a key).
    pub(crate) fn queue_with_keys(
        &mut self,
    ) -> (impl Iterator<Item = &mut super::Queued<T>>, &KeyCache) {
        (self.queue.iter_mut(), &self.supply.keys)
    }

    /// The key states, to look a key up (marking it in flight) or record its outcome.
    pub(crate) fn keys_mut(&mut self) -> &mut KeyCache {
        &mut self.supply.keys
    }
}
