//! The control thread: owns the queue and the player's state, carries out the handles'
//! commands (never blocking: it only sends messages, flips atomics and cancels tokens) and turns
//! the decoding thread's reports and the audio side's counters into [`Event`]s, in the order of
//! the audio.

use std::{
    collections::VecDeque,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use flume::{Receiver, RecvTimeoutError, Sender};
use tokio_util::sync::CancellationToken;

mod command;
mod observe;

use crate::{
    msg::{Begin, Command, ControlMsg, MarkerKind, Report, ToDecoder, TrackRef},
    queue::Queue,
    shared::Shared,
    tracks::Tracks,
    Event, PlayerState, TrackId,
};

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Stopped,
    Play,
    Pause,
}

/// The track heard and where its clock starts: `base_time` at ring frame `base_frame` (`None`
/// until the frame is known: after a seek, before the decoding thread carried it out).
#[derive(Debug, Clone, Copy)]
struct Heard {
    id: TrackId,
    base_frame: Option<u64>,
    base_time: Duration,
}

pub(crate) struct Control {
    shared: Arc<Shared>,
    rx: Receiver<ControlMsg>,
    decoder: Sender<ToDecoder>,
    subscribers: Vec<Sender<Event>>,
    queue: Queue,
    tracks: Tracks,
    head: Playhead,
    epoch: u64,
    intent: Intent,
    visible: PlayerState,
    timing: Timing,
}

/// Where playback is: heard, decoded, and what waits for the audio.
#[derive(Default)]
struct Playhead {
    /// Events waiting for the audio to reach their frame.
    markers: VecDeque<(u64, MarkerKind)>,
    heard: Option<Heard>,
    /// The track being decoded, and the `Next` last sent for it.
    decoding: Option<TrackId>,
    next_sent: Option<(TrackId, Option<TrackId>)>,
    /// Set by a jump: the next track start is not the queue moving on by itself.
    jumped: bool,
    /// The track the queue ended after (a `play` then goes on after it).
    ended_after: Option<TrackId>,
    /// What is playing in the heard track, as of the audio heard.
    now_playing: Option<kithara_stream::NowPlaying>,
}

/// The start buffer and the position ticks.
struct Timing {
    start_frames: u64,
    tick: Duration,
    last_tick: Instant,
}

impl Control {
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<ControlMsg>,
        decoder: Sender<ToDecoder>,
        root: CancellationToken,
        config: &crate::PlayerConfig,
    ) -> Self {
        let start_frames = shared.time_to_frames(config.start_buffer).max(1);
        Self {
            shared,
            rx,
            decoder,
            subscribers: Vec::new(),
            queue: Queue::new(config.shuffle_seed),
            tracks: Tracks::new(root, crate::AudioChoice::from_config(config)),
            head: Playhead::default(),
            epoch: 0,
            intent: Intent::Stopped,
            visible: PlayerState::Stopped,
            timing: Timing {
                start_frames,
                tick: config.tick.max(Duration::from_millis(1)),
                last_tick: Instant::now(),
            },
        }
    }

    pub(crate) fn run(mut self) {
        loop {
            match self.rx.recv_timeout(self.timing.tick) {
                Ok(ControlMsg::Cmd(Command::Quit)) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(ControlMsg::Cmd(cmd)) => self.command(cmd),
                Ok(ControlMsg::Report(epoch, report)) => self.report(epoch, report),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.observe();
        }
        let _ = self.decoder.send(ToDecoder::Quit);
        self.tracks.retain(&[]);
    }

    /// The track the queue is at: the heard one, else the one being decoded.
    pub(super) fn current(&self) -> Option<TrackId> {
        self.head.heard.map(|h| h.id).or(self.head.decoding)
    }

    /// Playing stays playing, paused stays paused, stopped starts playing.
    fn intent_to_play(&self) -> Intent {
        match self.intent {
            Intent::Pause => Intent::Pause,
            _ => Intent::Play,
        }
    }

    /// Flushes and starts `id` at `start` (`how`: a jump, a seek within it, or opened again).
    fn begin(&mut self, id: TrackId, start: Duration, how: Begin) {
        let seek = how != Begin::Jump;
        let Some(track) = self.queue.track(id).cloned() else {
            return;
        };
        self.epoch += 1;
        self.shared.gate.store(false, Ordering::Release);
        if self.intent == Intent::Play {
            // A flush always shows as buffering, however fast the refill.
            self.set_visible(PlayerState::Buffering);
        }
        self.head.markers.clear();
        let cancel = self.tracks.token(id);
        self.tracks.retain(&[Some(id)]);
        let abr = self.tracks.settings;
        let audio = self.tracks.audio.clone();
        let track = TrackRef {
            id,
            track,
            cancel,
            abr,
            audio,
        };
        let _ = self.decoder.send(ToDecoder::Play {
            epoch: self.epoch,
            track,
            start,
            how,
        });
        self.head.decoding = Some(id);
        self.head.next_sent = None;
        self.head.ended_after = None;
        self.head.jumped = !seek;
        self.head.heard = seek.then_some(Heard {
            id,
            base_frame: None,
            base_time: start,
        });
        self.refresh_next();
    }

    /// A new audio rendition choice: the HLS track heard is opened again at the position heard.
    fn set_audio(&mut self, choice: crate::AudioChoice) {
        self.tracks.audio = choice;
        let Some(h) = self.head.heard else {
            return;
        };
        if self.intent == Intent::Stopped || !self.tracks.abr.contains_key(&h.id) {
            return;
        }
        let at = match h.base_frame {
            Some(base) => {
                let consumed = self.shared.consumed.load(Ordering::Acquire);
                h.base_time + self.shared.frames_to_time(consumed.saturating_sub(base))
            }
            None => h.base_time,
        };
        self.begin(h.id, at, Begin::Reopen);
    }

    fn stop(&mut self) {
        self.epoch += 1;
        self.shared.gate.store(false, Ordering::Release);
        self.shared.paused.store(false, Ordering::Release);
        let _ = self.decoder.send(ToDecoder::Stop { epoch: self.epoch });
        self.tracks.retain(&[]);
        self.head.markers.clear();
        self.head.decoding = None;
        self.head.next_sent = None;
        self.intent = Intent::Stopped;
    }

    /// Tells the decoding thread what follows the track it decodes (after a queue edit).
    fn refresh_next(&mut self) {
        let Some(after) = self.head.decoding else {
            return;
        };
        let next = self.queue.next_after(after, false);
        if self.head.next_sent == Some((after, next)) {
            return;
        }
        self.head.next_sent = Some((after, next));
        let next = next.and_then(|id| {
            let track = self.queue.track(id)?.clone();
            let cancel = self.tracks.token(id);
            let abr = self.tracks.settings;
            let audio = self.tracks.audio.clone();
            Some(TrackRef {
                id,
                track,
                cancel,
                abr,
                audio,
            })
        });
        self.tracks
            .retain(&[Some(after), next.as_ref().map(|n| n.id)]);
        let _ = self.decoder.send(ToDecoder::Next { after, next });
    }

    fn report(&mut self, epoch: u64, report: Report) {
        if epoch != self.epoch {
            return;
        }
        match report {
            Report::Marker { frame, kind } => self.head.markers.push_back((frame, kind)),
            Report::Opened { id, abr } => {
                if let Some(handle) = abr {
                    self.tracks.apply_abr(&handle);
                    self.tracks.abr.insert(id, handle);
                }
            }
            Report::Advanced { to } => {
                self.head.decoding = Some(to);
                self.refresh_next();
            }
        }
    }
}
