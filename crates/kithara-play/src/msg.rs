//! Messages between the handles, the control thread and the decoding thread.

use std::{sync::Arc, time::Duration};

use kithara_decode::TrackInfo;
use kithara_stream::{AbrHandle, AbrMode, NowPlaying};
use tokio_util::sync::CancellationToken;

use crate::{source::TrackSource, AudioChoice, Error, Event, Repeat, Track, TrackId};

/// What the control thread receives.
pub(crate) enum ControlMsg {
    /// From a handle.
    Cmd(Command),
    /// From the decoding thread, tagged with the epoch it belongs to.
    Report(u64, Report),
}

/// A caller's command.
pub(crate) enum Command {
    Play,
    Pause,
    Stop,
    Seek(Duration),
    Volume(f32),
    Next,
    Previous,
    Jump(usize),
    Insert(usize, TrackId, Track),
    Remove(usize),
    Move(usize, usize),
    Clear,
    Repeat(Repeat),
    Shuffle(bool),
    AbrMode(AbrMode),
    MaxBitrate(Option<u64>),
    Audio(AudioChoice),
    Subscribe(flume::Sender<Event>),
    Quit,
}

/// A track the decoding thread may open, with its cancellation token (a child of the root).
#[derive(Debug, Clone)]
pub(crate) struct TrackRef {
    pub(crate) id: TrackId,
    pub(crate) track: Track,
    pub(crate) cancel: CancellationToken,
    /// The caller's ABR settings when the track was handed over, for an HLS stream's open.
    pub(crate) abr: AbrSettings,
    /// The caller's audio rendition choice when the track was handed over, for HLS.
    pub(crate) audio: AudioChoice,
}

/// The caller's ABR settings (`None`: the stream's default).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AbrSettings {
    pub(crate) mode: Option<AbrMode>,
    pub(crate) max_bitrate: Option<Option<u64>>,
}

/// What the control thread tells the decoding thread.
pub(crate) enum ToDecoder {
    /// Flush, then decode `track` from `start`: a jump, a seek within the heard track (in place
    /// when it is the track being decoded), or the heard track opened again at `start`.
    Play {
        epoch: u64,
        track: TrackRef,
        start: Duration,
        how: Begin,
    },
    /// The track to continue with after `after` (gapless); `None`: the queue ends there.
    Next {
        after: TrackId,
        next: Option<TrackRef>,
    },
    /// Flush and idle.
    Stop {
        epoch: u64,
    },
    Quit,
}

/// How a track begins after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    /// Another track, or the same from its start: a `TrackStarted` follows.
    Jump,
    /// A seek within the heard track.
    Seek,
    /// The heard track opened again (new settings) at the position heard.
    Reopen,
}

/// What the decoding thread reports.
pub(crate) enum Report {
    /// Something tied to the frame `frame` of the ring's numbering.
    Marker { frame: u64, kind: MarkerKind },
    /// A track was opened; its bitrate control, for HLS.
    Opened { id: TrackId, abr: Option<AbrHandle> },
    /// Decoding moved on from one track to the next by itself.
    Advanced { to: TrackId },
}

/// The events that wait for the audio to be heard.
pub(crate) enum MarkerKind {
    Started {
        id: TrackId,
        info: Box<TrackInfo>,
        bitrate: Option<u64>,
        at: Duration,
    },
    Seeked {
        id: TrackId,
        at: Duration,
        /// What is playing at `at` (the latest change before it).
        now_playing: Option<Box<NowPlaying>>,
    },
    /// What is playing changed at media time `at` of `id`.
    NowPlaying {
        id: TrackId,
        now_playing: Box<NowPlaying>,
        at: Duration,
    },
    /// A seek within `id` failed: the track plays on from `at`.
    SeekFailed {
        id: TrackId,
        at: Duration,
        error: Arc<Error>,
    },
    Variant {
        id: TrackId,
        variant: Option<usize>,
        info: Box<TrackInfo>,
        bitrate: Option<u64>,
    },
    Ended {
        id: TrackId,
    },
    Failed {
        id: TrackId,
        error: Arc<Error>,
    },
    QueueEnd,
}

impl MarkerKind {
    /// The start of `id` at `at`, with what its source tells about it.
    pub(crate) fn started(id: TrackId, source: &dyn TrackSource, at: Duration) -> Self {
        Self::Started {
            id,
            info: Box::new(source.info().clone()),
            bitrate: source.bitrate(None),
            at,
        }
    }
}
