//! [`Event`]: what the player tells its subscribers, in the order the audio is heard.

use std::{sync::Arc, time::Duration};

use kithara_decode::TrackInfo;
use kithara_stream::NowPlaying;

use crate::{Error, TrackId};

/// The player's visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlayerState {
    /// Nothing plays: never started, stopped, or the queue ended.
    Stopped,
    /// Waiting for the start buffer (at the start, after a seek or an underrun).
    Buffering,
    /// Audio reaches the sink.
    Playing,
    /// Paused by the caller.
    Paused,
}

/// Repeat mode of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Repeat {
    /// Play the queue once.
    #[default]
    Off,
    /// Play the current track again and again.
    One,
    /// Start the queue again after its last track.
    All,
}

/// Something that happened, delivered to every subscriber
/// ([`PlayerHandle::subscribe`](crate::PlayerHandle::subscribe)).
///
/// Order: events reach a subscriber in the order the control thread produced them, and the
/// events tied to audio (`TrackStarted`, `VariantSwitched`, `NowPlaying`, `TrackEnded`,
/// `TrackFailed`, `QueueEnded`, `Position`) in the order of the audio: each is sent when the sink has consumed
/// the frame it belongs to. So for one track: `TrackStarted` ≤ its `Position` ticks ≤
/// `TrackEnded` or `TrackFailed`, then the next track's `TrackStarted` (with `QueueAdvanced`
/// just before it when the queue moved on by itself).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The visible state changed.
    StateChanged(PlayerState),
    /// The audio clock: where the heard track is, from the frames the sink consumed.
    #[non_exhaustive]
    Position {
        /// The heard track.
        track: TrackId,
        /// Media time of the last frame consumed.
        position: Duration,
        /// Decoded audio waiting in the ring.
        buffered: Duration,
        /// Bytes of the track being decoded downloaded ahead of its reader (`None`: the stream
        /// does not tell).
        buffered_bytes: Option<u64>,
        /// What is playing, as of the last [`Event::NowPlaying`] of the heard track (after a
        /// seek: the change in effect at the new position); `None` while nothing says.
        now_playing: Option<NowPlaying>,
    },
    /// What is playing changed, and the sink has consumed the audio where it takes effect: an
    /// in-band title (ICY, HLS timed ID3, `EXT-X-DATERANGE`), the tags of a file when it starts
    /// (also of each file of an MP3 stream that sends whole files back to back).
    NowPlaying {
        /// The heard track.
        track: TrackId,
        /// What is playing from here on.
        now_playing: NowPlaying,
        /// The media time where it takes effect (the track's position when the event is sent,
        /// to within the sink's last read).
        position: Duration,
    },
    /// Playback waits for audio (start, seek, underrun); `level` is the decoded audio buffered.
    #[non_exhaustive]
    BufferingStarted {
        /// Decoded audio waiting in the ring.
        level: Duration,
        /// Bytes downloaded ahead of the reader of the track being decoded, when its stream tells.
        level_bytes: Option<u64>,
    },
    /// Playback resumed; `level` is the decoded audio buffered.
    #[non_exhaustive]
    BufferingEnded {
        /// Decoded audio waiting in the ring.
        level: Duration,
        /// Bytes downloaded ahead of the reader of the track being decoded, when its stream tells.
        level_bytes: Option<u64>,
    },
    /// The first frame of a track (or of a track after a jump) reached the sink.
    TrackStarted {
        /// The track.
        track: TrackId,
        /// Its index in the queue when it started.
        index: Option<usize>,
        /// What the decoder knows about it.
        info: TrackInfo,
        /// Its bitrate in bits per second, when known: an HLS variant's declared `BANDWIDTH`,
        /// else a file's length × 8 / its duration (tags and cover art included).
        bitrate: Option<u64>,
    },
    /// The queue moved on by itself to the track at `index` (gapless).
    QueueAdvanced {
        /// The new current track.
        track: TrackId,
        /// Its index in the queue.
        index: Option<usize>,
    },
    /// The last frame of the track reached the sink: it played to its end.
    TrackEnded {
        /// The track.
        track: TrackId,
    },
    /// The track could not be opened or decoded to its end; the audio before the failure played.
    TrackFailed {
        /// The track.
        track: TrackId,
        /// Why.
        error: Arc<Error>,
    },
    /// An HLS variant switch (or another boundary) reached the sink.
    VariantSwitched {
        /// The track.
        track: TrackId,
        /// The variant heard from now on, when the stream names it.
        variant: Option<usize>,
        /// The track as the decoder sees it after the boundary.
        info: TrackInfo,
        /// The variant's declared `BANDWIDTH` in bits per second, when known.
        bitrate: Option<u64>,
    },
    /// The last track ended and nothing follows.
    QueueEnded,
    /// The queue was edited (insert, remove, move, clear, shuffle on or off); `len` tracks are
    /// queued.
    QueueChanged {
        /// The number of tracks queued.
        len: usize,
    },
    /// An error not tied to one track (a command that could not be carried out).
    Error(Arc<Error>),
}
