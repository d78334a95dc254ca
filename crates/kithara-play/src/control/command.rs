//! The handles' commands: playback, queue edits, ABR settings.

use std::{sync::atomic::Ordering, sync::Arc, time::Duration};

use super::{Control, Intent};
use crate::{
    msg::{Begin, Command},
    queue::Queue,
    Error, Event, TrackId,
};

impl Control {
    pub(super) fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Play => self.play(),
            Command::Pause => {
                if self.intent == Intent::Play {
                    self.intent = Intent::Pause;
                    self.shared.paused.store(true, Ordering::Release);
                }
            }
            Command::Stop => self.stop(),
            Command::Seek(to) => {
                let id = self.current().filter(|_| self.intent != Intent::Stopped);
                if let Some(id) = id {
                    self.begin(id, to, Begin::Seek);
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
                    self.begin(id, Duration::ZERO, Begin::Jump);
                }
                None => self.no_such_index(index),
            },
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
            Command::Audio(choice) => self.set_audio(choice),
            Command::Subscribe(tx) => self.subscribers.push(tx),
            Command::Quit => {}
            edit => self.edit(edit),
        }
    }

    /// Starts, or resumes after a pause.
    fn play(&mut self) {
        match self.intent {
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
                    self.begin(id, Duration::ZERO, Begin::Jump);
                }
            }
            Intent::Pause => {
                self.intent = Intent::Play;
                self.shared.paused.store(false, Ordering::Release);
                self.shared.notify();
            }
            Intent::Play => {}
        }
    }

    /// The queue edits; each but a repeat change is followed by `QueueChanged`.
    fn edit(&mut self, cmd: Command) {
        let changed = match cmd {
            Command::Insert(index, id, track) => {
                self.queue.insert(index, id, track, self.current());
                self.refresh_next();
                true
            }
            Command::Remove(index) => self.remove(index),
            Command::Move(from, to) => {
                let moved = self.queue.move_item(from, to);
                if moved {
                    self.refresh_next();
                } else {
                    self.no_such_index(from);
                }
                moved
            }
            Command::Clear => {
                self.queue.clear();
                self.stop();
                self.head.heard = None;
                true
            }
            Command::Repeat(r) => {
                self.queue.set_repeat(r);
                self.refresh_next();
                false
            }
            Command::Shuffle(on) => {
                self.queue.set_shuffle(on, self.current());
                self.refresh_next();
                true
            }
            _ => false,
        };
        if changed {
            let len = self.queue.len();
            self.emit(Event::QueueChanged { len });
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
                self.begin(id, Duration::ZERO, Begin::Jump);
            }
            None => self.stop(),
        }
    }

    /// Reports a queue command with an index out of range.
    fn no_such_index(&mut self, index: usize) {
        let len = self.queue.len();
        self.emit(Event::Error(Arc::new(Error::NoSuchIndex { index, len })));
    }

    /// Removes the track at `index`; returns whether there was one.
    fn remove(&mut self, index: usize) -> bool {
        let Some(id) = self.queue.id_at(index) else {
            self.no_such_index(index);
            return false;
        };
        let next = self.queue.next_after(id, true).filter(|n| *n != id);
        self.queue.remove(index);
        if self.current() == Some(id) && self.intent != Intent::Stopped {
            match next {
                Some(n) => self.begin(n, Duration::ZERO, Begin::Jump),
                None => self.stop(),
            }
        } else {
            self.refresh_next();
        }
        true
    }
}
