//! The variants of a stream and their media playlists as far as loaded.

use std::{sync::Arc, time::Duration};

use kithara_stream::MediaInfo;
use url::Url;

use crate::playlist::{MasterPlaylist, MediaPlaylist};

/// One variant: where its media playlist is, what it costs, what it holds.
#[derive(Debug, Clone)]
pub(crate) struct VariantInfo {
    pub(crate) url: Url,
    pub(crate) bitrate: u64,
    pub(crate) codecs: Option<String>,
    pub(crate) info: MediaInfo,
    /// The latest load of its media playlist: a snapshot, replaced on reload and never edited, so
    /// whoever holds it (the layout, for seeks by time) sees the same facts.
    pub(crate) playlist: Option<Arc<MediaPlaylist>>,
}

/// All variants, by index.
#[derive(Debug, Clone)]
pub(crate) struct VariantSet {
    variants: Vec<VariantInfo>,
}

impl VariantSet {
    /// The variants of a master playlist (the audio rendition of each, by name, else in the
    /// given language).
    pub(crate) fn from_master(
        master: &MasterPlaylist,
        name: Option<&str>,
        language: Option<&str>,
    ) -> Self {
        let variants = master
            .variants
            .iter()
            .map(|v| VariantInfo {
                url: master
                    .media_url_for(v.index, name, language)
                    .cloned()
                    .unwrap_or_else(|| v.url.clone()),
                bitrate: v.bitrate(),
                codecs: v.codecs.clone(),
                info: v.media_info(),
                playlist: None,
            })
            .collect();
        Self { variants }
    }

    /// No variant (a planner's before it is given the stream's).
    pub(crate) fn empty() -> Self {
        Self {
            variants: Vec::new(),
        }
    }

    /// A stream whose URL named one media playlist.
    pub(crate) fn single(playlist: MediaPlaylist) -> Self {
        let info = MediaInfo::builder().variant_index(0).build();
        Self {
            variants: vec![VariantInfo {
                url: playlist.url.clone(),
                bitrate: 0,
                codecs: None,
                info,
                playlist: Some(Arc::new(playlist)),
            }],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.variants.len()
    }

    pub(crate) fn bitrates(&self) -> Vec<u64> {
        self.variants.iter().map(|v| v.bitrate).collect()
    }

    pub(crate) fn url(&self, i: usize) -> Option<&Url> {
        self.variants.get(i).map(|v| &v.url)
    }

    pub(crate) fn media_info(&self, i: usize) -> MediaInfo {
        self.variants.get(i).map(|v| v.info).unwrap_or_default()
    }

    pub(crate) fn summaries(&self) -> Vec<super::VariantSummary> {
        self.variants
            .iter()
            .enumerate()
            .map(|(index, v)| super::VariantSummary {
                index,
                bandwidth: v.bitrate,
                codecs: v.codecs.clone(),
                media_info: v.info,
            })
            .collect()
    }

    pub(crate) fn playlist(&self, i: usize) -> Option<&MediaPlaylist> {
        self.variants.get(i)?.playlist.as_deref()
    }

    /// The snapshot of variant `i`'s media playlist, shared (see [`VariantInfo::playlist`]).
    pub(crate) fn snapshot(&self, i: usize) -> Option<Arc<MediaPlaylist>> {
        self.variants.get(i)?.playlist.clone()
    }

    /// Installs a (re)loaded playlist; returns whether it lists anything new.
    pub(crate) fn install(&mut self, i: usize, p: MediaPlaylist) -> bool {
        let Some(v) = self.variants.get_mut(i) else {
            return false;
        };
        let last = |p: &MediaPlaylist| (p.media_sequence + p.segments.len() as u64, p.end_list);
        let changed = v
            .playlist
            .as_deref()
            .is_none_or(|old| last(old) != last(&p));
        v.playlist = Some(Arc::new(p));
        changed
    }

    /// Whether the stream is live (the playlists loaded so far have no `ENDLIST`).
    pub(crate) fn is_live(&self) -> bool {
        self.variants
            .iter()
            .filter_map(|v| v.playlist.as_deref())
            .any(MediaPlaylist::is_live)
    }

    pub(crate) fn target_duration(&self, i: usize) -> Duration {
        self.playlist(i)
            .map_or(Duration::from_secs(2), |p| p.target_duration)
    }
}
