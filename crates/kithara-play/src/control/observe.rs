//! Turning the audio side's counters and the decoding thread's markers into events, in the
//! order of the audio; opening the gate; position ticks.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use super::{Control, Heard, Intent};
use crate::{
    msg::{Begin, MarkerKind},
    Event, PlayerState,
};

impl Control {
    /// Emits what the audio side has reached, opens the gate when the buffer allows, ticks.
    pub(super) fn observe(&mut self) {
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
                    let buffered = self.shared.frames_to_time(self.shared.level_frames());
                    self.emit(Event::Position {
                        track: h.id,
                        position: h.base_time + played,
                        buffered,
                        buffered_bytes: self.shared.level_bytes(),
                        now_playing: self.head.now_playing.clone(),
                    });
                }
            }
        }
    }

    pub(super) fn set_visible(&mut self, state: PlayerState) {
        if state == self.visible {
            return;
        }
        // Before the decoding thread carried out the last flush, what the ring holds is stale.
        let applied = self.shared.epoch_applied.load(Ordering::Acquire) == self.epoch;
        let level = if applied {
            self.shared.frames_to_time(self.shared.level_frames())
        } else {
            Duration::ZERO
        };
        let level_bytes = self.shared.level_bytes();
        let was = std::mem::replace(&mut self.visible, state);
        if was == PlayerState::Buffering {
            self.emit(Event::BufferingEnded { level, level_bytes });
        }
        self.emit(Event::StateChanged(state));
        if state == PlayerState::Buffering {
            self.emit(Event::BufferingStarted { level, level_bytes });
        }
    }

    /// The audio reached `frame`, where `kind` happens.
    fn reached(&mut self, frame: u64, kind: MarkerKind) {
        match kind {
            MarkerKind::Started {
                id,
                info,
                bitrate,
                at,
            } => {
                let index = self.queue.index_of(id);
                if !std::mem::take(&mut self.head.jumped) {
                    self.emit(Event::QueueAdvanced { track: id, index });
                }
                self.head.heard = Some(Heard {
                    id,
                    base_frame: Some(frame),
                    base_time: at,
                });
                self.head.now_playing = None;
                self.emit(Event::TrackStarted {
                    track: id,
                    index,
                    info: *info,
                    bitrate,
                });
            }
            MarkerKind::Seeked {
                id,
                at,
                now_playing,
            } => {
                self.head.heard = Some(Heard {
                    id,
                    base_frame: Some(frame),
                    base_time: at,
                });
                self.head.now_playing = now_playing.map(|n| *n);
            }
            MarkerKind::NowPlaying {
                id,
                now_playing,
                at,
            } => {
                self.head.now_playing = Some((*now_playing).clone());
                self.emit(Event::NowPlaying {
                    track: id,
                    now_playing: *now_playing,
                    position: at,
                });
            }
            MarkerKind::SeekFailed { id, at, error } => {
                self.head.heard = Some(Heard {
                    id,
                    base_frame: Some(frame),
                    base_time: at,
                });
                self.emit(Event::Error(error));
            }
            MarkerKind::Variant {
                id,
                variant,
                info,
                bitrate,
            } => {
                self.emit(Event::VariantSwitched {
                    track: id,
                    variant,
                    info: *info,
                    bitrate,
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
                    self.begin(next, Duration::ZERO, Begin::Jump);
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

    pub(super) fn emit(&mut self, event: Event) {
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
    }
}
