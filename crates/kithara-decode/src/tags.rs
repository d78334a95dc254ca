//! [`Tags`]: what a file says about itself (title, artist, album, track number, cover art), read
//! from symphonia's metadata: ID3v2 (and APE) tags at the head of the file, Vorbis comments and
//! pictures of FLAC and Ogg, MP4 `ilst`.
//!
//! The format reader reads only the tags at the head (the layout is hidden while probing, see
//! [`LayoutGate`](crate::LayoutGate), so it never scans the tail). Tags at the *end* of a file
//! (ID3v1, APE) are read by `tail_tags` when the file's last bytes are present already, or with
//! [`DecoderConfig::fetch_tail_tags`](crate::DecoderConfig::fetch_tail_tags); the head's win a
//! field both have.

use kithara_stream::{NowPlaying, RawField};
use symphonia::core::{
    formats::FormatReader,
    meta::{MetadataRevision, RawValue, StandardTag},
};

/// The most raw fields kept for a [`NowPlaying`] made from tags.
const MAX_RAW: usize = 32;
/// The longest raw value kept (longer ones, e.g. lyrics, are left out).
const MAX_RAW_VALUE: usize = 1024;

/// What a file's tags say about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tags {
    /// The title (ID3 `TIT2`, Vorbis `TITLE`, MP4 `©nam`).
    pub title: Option<String>,
    /// The artist (ID3 `TPE1`, Vorbis `ARTIST`, MP4 `©ART`).
    pub artist: Option<String>,
    /// The album (ID3 `TALB`, Vorbis `ALBUM`, MP4 `©alb`).
    pub album: Option<String>,
    /// The track number on its album (ID3 `TRCK`, Vorbis `TRACKNUMBER`, MP4 `trkn`).
    pub track_number: Option<u64>,
    /// Whether the file carries cover art (ID3 `APIC`, FLAC `PICTURE`, MP4 `covr`).
    pub has_cover_art: bool,
    /// Every text field as carried (frame id or key, value), at most 32, values of at most 1 KiB.
    pub raw: Vec<RawField>,
}

impl Tags {
    /// Whether the tags name nothing (no title, artist, album, track number or cover art).
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.artist.is_none()
            && self.album.is_none()
            && self.track_number.is_none()
            && !self.has_cover_art
    }

    /// The tags as a now-playing, when they name a title or an artist.
    pub fn now_playing(&self) -> Option<NowPlaying> {
        if self.title.is_none() && self.artist.is_none() {
            return None;
        }
        let np = match &self.title {
            Some(t) => NowPlaying::titled(t.clone()),
            None => NowPlaying::default(),
        };
        Some(
            np.with_artist(self.artist.clone())
                .with_raw(self.raw.clone()),
        )
    }

    /// Fills the fields this has not from `other` (tags read elsewhere in the file: those at its
    /// head win over those at its tail), and adds its raw fields after this one's.
    pub(crate) fn fill_from(&mut self, other: Tags) {
        self.title = self.title.take().or(other.title);
        self.artist = self.artist.take().or(other.artist);
        self.album = self.album.take().or(other.album);
        self.track_number = self.track_number.or(other.track_number);
        self.has_cover_art |= other.has_cover_art;
        for f in other.raw {
            if self.raw.len() >= MAX_RAW {
                break;
            }
            self.raw.push(f);
        }
    }

    /// Keeps a raw text field, within the bounds on their number and length.
    pub(crate) fn push_raw(&mut self, key: &str, value: &str) {
        if value.len() <= MAX_RAW_VALUE && self.raw.len() < MAX_RAW {
            self.raw.push(RawField::new(key, value));
        }
    }

    fn add(&mut self, rev: &MetadataRevision) {
        let tracks = rev.per_track.iter();
        let all = rev
            .media
            .tags
            .iter()
            .chain(tracks.clone().flat_map(|t| t.metadata.tags.iter()));
        for tag in all {
            match &tag.std {
                Some(StandardTag::TrackTitle(t)) => self.title = Some(t.to_string()),
                Some(StandardTag::Artist(a)) => self.artist = Some(a.to_string()),
                Some(StandardTag::Album(a)) => self.album = Some(a.to_string()),
                Some(StandardTag::TrackNumber(n)) => self.track_number = Some(*n),
                _ => {}
            }
            let text = match &tag.raw.value {
                RawValue::String(s) => Some(s.to_string()),
                RawValue::StringList(l) => Some(l.join("\n")),
                RawValue::UnsignedInt(n) => Some(n.to_string()),
                _ => None,
            };
            if let Some(v) = text {
                self.push_raw(&tag.raw.key, &v);
            }
        }
        let visuals = !rev.media.visuals.is_empty()
            || tracks.into_iter().any(|t| !t.metadata.visuals.is_empty());
        self.has_cover_art |= visuals;
    }
}

/// The tags the reader found while opening (every revision of its metadata log, oldest first,
/// later ones overriding earlier ones).
pub(crate) fn read_tags(reader: &mut dyn FormatReader) -> Tags {
    let mut tags = Tags::default();
    let mut log = reader.metadata();
    while let Some(rev) = log.pop() {
        tags.add(&rev);
    }
    if let Some(rev) = log.current() {
        tags.add(rev);
    }
    tags
}
