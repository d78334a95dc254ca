//! The decoding thread: opens tracks, decodes them, converts the audio to the sink's format and
//! writes it into the ring; at the end of a track it goes on with the next one in the same ring
//! (a sample-exact join), opened ahead of time on a preload thread.
//!
//! It is the only thread that blocks on the network (opens, reads), so a command is never held
//! up by it: the control thread cancels a track's token to end a blocked open or read at once.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use flume::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use kithara_decode::PcmChunk;
use kithara_stream::FetchPriority;

mod nowplaying;
mod preload;

use preload::Preload;

use crate::{
    convert::Converter,
    msg::{Begin, ControlMsg, MarkerKind, Report, ToDecoder, TrackRef},
    open::Opener,
    ring::Writer,
    shared::Shared,
    source::TrackSource,
    Error, Result, TrackId,
};

/// How long the thread waits for room in the ring before looking again (the audio side never
/// signals: it must not make system calls).
const RING_POLL: Duration = Duration::from_millis(5);

/// The track being decoded.
struct Current {
    id: TrackId,
    label: String,
    source: Box<dyn TrackSource>,
    cancel: tokio_util::sync::CancellationToken,
    duration: Option<Duration>,
}

/// What follows the current track.
enum Next {
    /// Not told yet.
    Unknown,
    /// The queue ends after it.
    End,
    Track(TrackRef),
}

pub(crate) struct DecodeThread {
    shared: Arc<Shared>,
    writer: Writer,
    conv: Converter,
    rx: Receiver<ToDecoder>,
    reports: Sender<ControlMsg>,
    opener: Opener,
    /// Open the next track this long before the current one's end.
    lead: Duration,
    epoch: u64,
    current: Option<Current>,
    next: Next,
    /// The track that ended while the next was not known yet.
    awaiting: Option<TrackId>,
    preload: Option<Preload>,
}

impl DecodeThread {
    pub(crate) fn new(
        shared: Arc<Shared>,
        writer: Writer,
        rx: Receiver<ToDecoder>,
        reports: Sender<ControlMsg>,
        opener: Opener,
        lead: Duration,
    ) -> Self {
        let conv = Converter::new(shared.format.rate, shared.format.channels);
        Self {
            shared,
            writer,
            conv,
            rx,
            reports,
            opener,
            lead,
            epoch: 0,
            current: None,
            next: Next::Unknown,
            awaiting: None,
            preload: None,
        }
    }

    pub(crate) fn run(mut self) {
        loop {
            loop {
                match self.rx.try_recv() {
                    Ok(msg) => {
                        if !self.handle(msg) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            if !self.writer.write() {
                // The ring is full: wait for room, or for a command.
                match self.rx.recv_timeout(RING_POLL) {
                    Ok(msg) => {
                        if !self.handle(msg) {
                            return;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {}
                }
                self.publish_bytes();
                continue;
            }
            if self.current.is_some() {
                self.step();
                self.publish_bytes();
                continue;
            }
            if self.awaiting.is_none() && !self.writer.has_pending() {
                // Everything is written and nothing follows until a command.
                self.shared.input_done.store(true, Ordering::Release);
                self.shared.notify();
            }
            let Ok(msg) = self.rx.recv() else {
                return;
            };
            if !self.handle(msg) {
                return;
            }
        }
    }

    /// Carries out one command; `false` to end the thread.
    fn handle(&mut self, msg: ToDecoder) -> bool {
        match msg {
            ToDecoder::Play {
                epoch,
                track,
                start,
                how,
            } => self.play(epoch, track, start, how),
            ToDecoder::Next { after, next } => {
                let next = next.map_or(Next::End, Next::Track);
                if self.awaiting == Some(after) {
                    self.awaiting = None;
                    self.next = next;
                    self.advance(after);
                } else if self.current.as_ref().map(|c| c.id) == Some(after) {
                    if !matches!((&self.preload, &next), (Some(p), Next::Track(t)) if p.id == t.id && p.audio == t.audio)
                    {
                        self.preload = None;
                    }
                    self.next = next;
                }
            }
            ToDecoder::Stop { epoch } => {
                self.reset(epoch);
                self.preload = None;
            }
            ToDecoder::Quit => return false,
        }
        true
    }

    /// Tells the others how many bytes the current track's stream holds ahead of its reader.
    fn publish_bytes(&self) {
        let bytes = self
            .current
            .as_ref()
            .and_then(|c| c.source.buffered_bytes())
            .unwrap_or(u64::MAX);
        self.shared.stream_bytes.store(bytes, Ordering::Release);
    }

    /// Flushes the ring and forgets the track being decoded.
    fn reset(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.writer.flush(epoch);
        self.conv.reset();
        self.current = None;
        self.next = Next::Unknown;
        self.awaiting = None;
        self.shared.input_done.store(false, Ordering::Release);
    }

    fn play(&mut self, epoch: u64, track: TrackRef, start: Duration, how: Begin) {
        let seek = how != Begin::Jump;
        let in_place =
            how == Begin::Seek && self.current.as_ref().is_some_and(|c| c.id == track.id);
        let kept = if in_place { self.current.take() } else { None };
        self.reset(epoch);
        let id = track.id;
        let mut current = match kept {
            Some(c) => c,
            None => match self.open(&track) {
                Ok(c) => c,
                Err(e) => return self.fail(id, &track.cancel, e),
            },
        };
        if !start.is_zero() || in_place {
            if let Err(source) = current.source.seek(start) {
                let label = track.track.label();
                if !seek {
                    return self.fail(id, &track.cancel, Error::Decode { label, source });
                }
                // The track plays on from where it was decoded (what the ring held is dropped).
                let at = current.source.position();
                tracing::debug!(track = %id, error = %source, "seek failed; playing on");
                let error = Arc::new(Error::Seek {
                    label,
                    target: start,
                    source,
                });
                let frame = self.writer.produced();
                self.marker(frame, MarkerKind::SeekFailed { id, at, error });
                self.current = Some(current);
                return;
            }
        }
        let frame = self.writer.produced();
        let kind = if seek {
            MarkerKind::Seeked {
                id,
                at: start,
                now_playing: current.source.now_playing().map(Box::new),
            }
        } else {
            MarkerKind::started(id, current.source.as_ref(), start)
        };
        self.marker(frame, kind);
        self.current = Some(current);
    }

    /// Opens `track`, from the preload when it is the preloaded one.
    fn open(&mut self, track: &TrackRef) -> Result<Current> {
        let preloaded = self
            .preload
            .take()
            .filter(|p| p.id == track.id && p.audio == track.audio);
        if let Some(p) = &preloaded {
            // It is the track decoded now: its fetches come first from here on.
            p.priority.set_background(false);
        }
        let source = match preloaded.and_then(|p| p.rx.recv().ok()) {
            Some(r) => r?,
            None => self.opener.open(track, &FetchPriority::default())?,
        };
        self.report(Report::Opened {
            id: track.id,
            abr: source.abr_handle(),
        });
        Ok(Current {
            id: track.id,
            label: track.track.label(),
            duration: source.info().duration,
            source,
            cancel: track.cancel.clone(),
        })
    }

    /// Decodes one chunk into the ring's pending buffer.
    fn step(&mut self) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        match cur.source.next_chunk() {
            Ok(Some(chunk)) => {
                if let Err(e) = self.take_chunk(&chunk) {
                    self.end_current(Some(e));
                }
            }
            Ok(None) => self.end_current(None),
            Err(source) => {
                if cur.cancel.is_cancelled() {
                    // Stopped or replaced: a newer command follows.
                    self.current = None;
                    return;
                }
                let label = cur.label.clone();
                self.end_current(Some(Error::Decode { label, source }));
            }
        }
    }

    fn take_chunk(&mut self, chunk: &PcmChunk) -> Result<()> {
        let Some(cur) = self.current.as_ref() else {
            return Ok(());
        };
        let id = cur.id;
        if let Some(change) = &chunk.change {
            let variant = change
                .media_info
                .as_ref()
                .and_then(|m| m.variant_index)
                .or_else(|| cur.source.variant());
            let info = Box::new(change.info.clone());
            let bitrate = cur.source.bitrate(variant);
            let frame = self.conv.input_end(self.writer.produced());
            let kind = MarkerKind::Variant {
                id,
                variant,
                info,
                bitrate,
            };
            self.marker(frame, kind);
        }
        let near_end = cur
            .duration
            .is_some_and(|d| chunk.end_time() + self.lead >= d);
        self.mark_now_playing(id, chunk);
        let produced = self.writer.produced();
        let pending = self.writer.pending_mut();
        self.conv.push(
            &chunk.samples,
            chunk.sample_rate,
            chunk.channels,
            produced,
            pending,
        )?;
        if near_end {
            self.start_preload();
        }
        Ok(())
    }

    /// The current track ended (or failed with `error`): mark it, then go on.
    fn end_current(&mut self, error: Option<Error>) {
        let Some(cur) = self.current.take() else {
            return;
        };
        let frame = self.conv.input_end(self.writer.produced());
        let kind = match error {
            None => MarkerKind::Ended { id: cur.id },
            Some(e) => MarkerKind::Failed {
                id: cur.id,
                error: Arc::new(e),
            },
        };
        self.marker(frame, kind);
        self.advance(cur.id);
    }

    /// A track failed to open or seek: mark it and go on with what follows it.
    fn fail(&mut self, id: TrackId, cancel: &tokio_util::sync::CancellationToken, e: Error) {
        if cancel.is_cancelled() {
            return;
        }
        let frame = self.writer.produced();
        self.marker(
            frame,
            MarkerKind::Failed {
                id,
                error: Arc::new(e),
            },
        );
        self.advance(id);
    }

    /// Continues after `ended` with the next track, or ends the queue.
    fn advance(&mut self, ended: TrackId) {
        match std::mem::replace(&mut self.next, Next::Unknown) {
            Next::Unknown => self.awaiting = Some(ended),
            Next::End => {
                if let Err(e) = self.conv.finish(self.writer.pending_mut()) {
                    tracing::warn!(error = %e, "the resampler's tail is lost");
                }
                let frame = self.writer.produced();
                self.marker(frame, MarkerKind::QueueEnd);
            }
            Next::Track(next) => {
                let id = next.id;
                self.report(Report::Advanced { to: id });
                match self.open(&next) {
                    Ok(current) => {
                        if !self.conv.continues(current.source.info().sample_rate) {
                            if let Err(e) = self.conv.finish(self.writer.pending_mut()) {
                                tracing::warn!(error = %e, "the resampler's tail is lost");
                            }
                        }
                        let frame = self.conv.input_end(self.writer.produced());
                        let kind = MarkerKind::started(id, current.source.as_ref(), Duration::ZERO);
                        self.marker(frame, kind);
                        self.current = Some(current);
                    }
                    Err(e) => self.fail(id, &next.cancel, e),
                }
            }
        }
    }

    fn marker(&self, frame: u64, kind: MarkerKind) {
        self.report(Report::Marker { frame, kind });
    }

    fn report(&self, report: Report) {
        let _ = self.reports.send(ControlMsg::Report(self.epoch, report));
    }
}
