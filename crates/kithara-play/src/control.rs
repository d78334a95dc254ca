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

use crate::{
    msg::{Command, ControlMsg, MarkerKind, Report, ToDecoder, TrackRef},
    queue::Queue,
    shared::Shared,
    tracks::Tracks,
    Error, Event, PlayerState, TrackId,
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
            tracks: Tracks::new(root),
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

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Play => match self.intent {
                Intent::Stopped => {
                    // After the queue's end: what was appended since, else the first track.
                    // After a stop: the track heard last (still queued), else the first.
                    let id = match self.head.ended_after {
                        Some(last) => self.queue.next_after(last, true),
                        None => self
                            .head
                            .heard
                            .map(|h| h.id)
                            .filter(|id| self.queue.track(*id).is_some()),
                    }
                    .or_else(|| self.queue.first());
                    if let Some(id) = id {
                        self.intent = Intent::Play;
                        self.begin(id, Duration::ZERO, false);
                    }
                }
                Intent::Pause => {
                    self.intent = Intent::Play;
                    self.shared.paused.store(false, Ordering::Release);
                    self.shared.notify();
                }
                Intent::Play => {}
            },
            Command::Pause => {
                if self.intent == Intent::Play {
                    self.intent = Intent::Pause;
                    self.shared.paused.store(true, Ordering::Release);
                }
            }
            Command::Stop => self.stop(),
            Command::Seek(to) => {
                let id = self.head.heard.map(|h| h.id).or(self.head.decoding);
                if let Some(id) = id.filter(|_| self.intent != Intent::Stopped) {
                    self.begin(id, to, true);
                }
            }
            Command::Volume(v) => {
                let v = if v.is_finite() {
                    v.clamp(0.0, 4.0)
                } else {
                    1.0
                };
                self.shared.volume.store(v.to_bits(), Ordering::Release);
            }
            Command::Next => self.skip(|q, id| q.next_after(id, true)),
            Command::Previous => self.skip(|q, id| q.previous_before(id)),
            Command::Jump(index) => match self.queue.id_at(index) {
                Some(id) => {
                    self.intent = self.intent_to_play();
                    self.begin(id, Duration::ZERO, false);
                }
                None => self.no_such_index(index),
            },
            Command::Insert(index, id, track) => {
                self.queue.insert(index, id, track, self.current());
                self.refresh_next();
            }
            Command::Remove(index) => self.remove(index),
            Command::Move(from, to) => {
                if self.queue.move_item(from, to) {
                    self.refresh_next();
                } else {
                    self.no_such_index(from);
                }
            }
            Command::Clear => {
                self.queue.clear();
                self.stop();
                self.head.heard = None;
            }
            Command::Repeat(r) => {
                self.queue.set_repeat(r);
                self.refresh_next();
            }
            Command::Shuffle(on) => {
                self.queue.set_shuffle(on, self.current());
                self.refresh_next();
            }
            Command::AbrMode(mode) => {
                self.tracks.settings.mode = Some(mode);
                self.tracks.abr.values().for_each(|h| h.set_mode(mode));
            }
            Command::MaxBitrate(cap) => {
                self.tracks.settings.max_bitrate = Some(cap);
                self.tracks
                    .abr
                    .values()
                    .for_each(|h| h.set_max_bitrate(cap));
            }
            Command::Subscribe(tx) => self.subscribers.push(tx),
            Command::Quit => {}
        }
    }

    /// The track the queue is at: the heard one, else the one being decoded.
    fn current(&self) -> Option<TrackId> {
        self.head.heard.map(|h| h.id).or(self.head.decoding)
    }

    /// Playing stays playing, paused stays paused, stopped starts playing.
    fn intent_to_play(&self) -> Intent {
        match self.intent {
            Intent::Pause => Intent::Pause,
            _ => Intent::Play,
        }
    }

    /// Next or previous: jumps to what `pick` chooses after the current track, or stops.
    fn skip(&mut self, pick: impl Fn(&Queue, TrackId) -> Option<TrackId>) {
        let target = match self.current() {
            Some(id) => pick(&self.queue, id),
            None => self.queue.first(),
        };
        match target {
            Some(id) => {
                self.intent = self.intent_to_play();
                self.begin(id, Duration::ZERO, false);
            }
            None => self.stop(),
        }
    }

    /// Reports a queue command with an index out of range.
    fn no_such_index(&mut self, index: usize) {
        let len = self.queue.len();
        self.emit(Event::Error(Arc::new(Error::NoSuchIndex { index, len })));
    }

    fn remove(&mut self, index: usize) {
        let Some(id) = self.queue.id_at(index) else {
            return self.no_such_index(index);
        };
        let next = self.queue.next_after(id, true).filter(|n| *n != id);
        self.queue.remove(index);
        if self.current() == Some(id) && self.intent != Intent::Stopped {
            match next {
                Some(n) => self.begin(n, Duration::ZERO, false),
                None => self.stop(),
            }
        } else {
            self.refresh_next();
        }
    }

    /// Flushes and starts `id` at `start` (a seek within it when `seek`).
    fn begin(&mut self, id: TrackId, start: Duration, seek: bool) {
        let Some(track) = self.queue.track(id).cloned() else {
            return;
        };
        self.epoch += 1;
        self.shared.gate.store(false, Ordering::Release);
        self.head.markers.clear();
        let cancel = self.tracks.token(id);
        self.tracks.retain(&[Some(id)]);
        let abr = self.tracks.settings;
        let track = TrackRef {
            id,
            track,
            cancel,
            abr,
        };
        let _ = self.decoder.send(ToDecoder::Play {
            epoch: self.epoch,
            track,
            start,
            seek,
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
            Some(TrackRef {
                id,
                track,
                cancel,
                abr,
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

    /// Emits what the audio side has reached, opens the gate when the buffer allows, ticks.
    fn observe(&mut self) {
        let consumed = self.shared.consumed.load(Ordering::Acquire);
        while self
            .head
            .markers
            .front()
            .is_some_and(|(f, _)| *f <= consumed)
        {
            if let Some((frame, kind)) = self.head.markers.pop_front() {
                self.reached(frame, kind);
            }
        }
        if self.intent != Intent::Stopped {
            let gate = self.shared.gate.load(Ordering::Acquire);
            let applied = self.shared.epoch_applied.load(Ordering::Acquire) == self.epoch;
            let level = self.shared.level_frames();
            let done = self.shared.input_done.load(Ordering::Acquire);
            if !gate && applied && level > 0 && (level >= self.timing.start_frames || done) {
                self.shared.gate.store(true, Ordering::Release);
            }
        }
        let visible = match self.intent {
            Intent::Stopped => PlayerState::Stopped,
            Intent::Pause => PlayerState::Paused,
            Intent::Play if self.shared.gate.load(Ordering::Acquire) => PlayerState::Playing,
            Intent::Play => PlayerState::Buffering,
        };
        self.set_visible(visible);
        if self.visible == PlayerState::Playing
            && self.timing.last_tick.elapsed() >= self.timing.tick
        {
            self.timing.last_tick = Instant::now();
            if let Some(h) = self.head.heard {
                if let Some(base) = h.base_frame {
                    let played = self.shared.frames_to_time(consumed.saturating_sub(base));
                    self.emit(Event::Position {
                        track: h.id,
                        position: h.base_time + played,
                    });
                }
            }
        }
    }

    fn set_visible(&mut self, state: PlayerState) {
        if state == self.visible {
            return;
        }
        let level = self.shared.frames_to_time(self.shared.level_frames());
        let was = std::mem::replace(&mut self.visible, state);
        if was == PlayerState::Buffering {
            self.emit(Event::BufferingEnded { level });
        }
        self.emit(Event::StateChanged(state));
        if state == PlayerState::Buffering {
            self.emit(Event::BufferingStarted { level });
        }
    }

    /// The audio reached `frame`, where `kind` happens.
    fn reached(&mut self, frame: u64, kind: MarkerKind) {
        match kind {
            MarkerKind::Started { id, info, at } => {
                let index = self.queue.index_of(id);
                if !std::mem::take(&mut self.head.jumped) {
                    self.emit(Event::QueueAdvanced { track: id, index });
                }
                self.head.heard = Some(Heard {
                    id,
                    base_frame: Some(frame),
                    base_time: at,
                });
                self.emit(Event::TrackStarted {
                    track: id,
                    index,
                    info,
                });
            }
            MarkerKind::Seeked { id, at } => {
                self.head.heard = Some(Heard {
                    id,
                    base_frame: Some(frame),
                    base_time: at,
                });
            }
            MarkerKind::Variant { id, variant, info } => {
                self.emit(Event::VariantSwitched {
                    track: id,
                    variant,
                    info,
                });
            }
            MarkerKind::Ended { id } => self.emit(Event::TrackEnded { track: id }),
            MarkerKind::Failed { id, error } => {
                self.head.jumped = false;
                self.emit(Event::TrackFailed { track: id, error });
            }
            MarkerKind::QueueEnd => {
                let last = self.head.heard.map(|h| h.id);
                if let Some(next) = last.and_then(|id| self.queue.next_after(id, false)) {
                    // Appended after the decoding had ended: go on (not gapless).
                    self.begin(next, Duration::ZERO, false);
                    self.head.jumped = false;
                    return;
                }
                self.head.ended_after = last;
                self.emit(Event::QueueEnded);
                self.intent = Intent::Stopped;
                self.shared.gate.store(false, Ordering::Release);
                self.head.decoding = None;
                self.head.next_sent = None;
            }
        }
    }

    fn emit(&mut self, event: Event) {
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
    }
}
