//! [`Player`]: owns the downloader, the cancellation root, the I/O runtime, the threads and the
//! sink; [`PlayerHandle`]: the cloneable, `Send` remote control; [`Events`]: a subscription.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use kithara_stream::{dl::Downloader, AbrMode};
use tokio_util::sync::CancellationToken;

use crate::{
    control::Control,
    decode::DecodeThread,
    msg::{Command, ControlMsg},
    open::Opener,
    output::Output,
    ring::Writer,
    shared::Shared,
    sink::{AudioSink, RunningSink},
    AudioChoice, Error, Event, PlayerConfig, Repeat, Result, Track, TrackId,
};

/// A player with a queue. Plays through one [`AudioSink`], fetches through one shared
/// [`Downloader`]; dropping it (or [`close`](Self::close)) cancels every fetch, stops its
/// threads and the sink.
///
/// Control it from any thread through [`handle`](Self::handle).
#[derive(Debug)]
pub struct Player {
    handle: PlayerHandle,
    root: CancellationToken,
    shared: Arc<Shared>,
    downloader: Downloader,
    threads: Vec<JoinHandle<()>>,
    sink: Option<Box<dyn RunningSink>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for dyn RunningSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunningSink")
    }
}

impl Player {
    /// Starts a player on `sink`: its I/O runtime (one worker thread), the downloader, the
    /// control and decoding threads, and the sink. Nothing plays until tracks are queued and
    /// [`PlayerHandle::play`] is called.
    ///
    /// # Errors
    /// [`Error::Start`] when a thread or the runtime cannot start, [`Error::Downloader`] when the
    /// HTTP client cannot be built, [`Error::SinkFormat`] or the sink's own error.
    pub fn new(config: PlayerConfig, sink: impl AudioSink) -> Result<Self> {
        let format = sink.format();
        if format.rate == 0 || format.channels == 0 {
            return Err(Error::SinkFormat {
                rate: format.rate,
                channels: format.channels,
            });
        }
        let start = |what| move |source| Error::Start { what, source };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kithara-play-io")
            .enable_all()
            .build()
            .map_err(start("I/O runtime"))?;
        let root = CancellationToken::new();
        let mut dl_config = config.downloader.clone();
        dl_config.cancel = root.clone();
        dl_config.runtime = Some(runtime.handle().clone());
        let downloader = Downloader::new(dl_config).map_err(Error::Downloader)?;

        let shared = Arc::new(Shared::new(format));
        let ring = config.ring.max(config.start_buffer * 2);
        let capacity =
            shared.time_to_frames(ring).max(1024) as usize * usize::from(format.channels);
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let (ctl_tx, ctl_rx) = flume::unbounded();
        let (dec_tx, dec_rx) = flume::unbounded();
        let opener = Opener {
            runtime: runtime.handle().clone(),
            downloader: downloader.clone(),
            load: config.load,
            assumed_bitrate: config.assumed_bitrate,
            wait_timeout: config.wait_timeout,
            storage: config.storage.clone(),
            cache: config.cache.resolve(),
        };
        let writer = Writer::new(producer, shared.clone());
        let decoder = DecodeThread::new(
            shared.clone(),
            writer,
            dec_rx,
            ctl_tx.clone(),
            opener,
            config.preload,
        );
        let control = Control::new(shared.clone(), ctl_rx, dec_tx, root.clone(), &config);
        let mut player = Self {
            handle: PlayerHandle {
                tx: ctl_tx,
                ids: Arc::new(AtomicU64::new(1)),
            },
            root,
            shared: shared.clone(),
            downloader,
            threads: Vec::new(),
            sink: None,
            runtime: Some(runtime),
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(f)
        };
        player.threads.push(
            spawn("kithara-play-decode", Box::new(move || decoder.run()))
                .map_err(start("decoding thread"))?,
        );
        player.threads.push(
            spawn("kithara-play-control", Box::new(move || control.run()))
                .map_err(start("control thread"))?,
        );
        let output = Output::new(consumer, shared, config.volume_ramp);
        player.sink = Some(Box::new(sink).start(output)?);
        Ok(player)
    }

    /// A remote control for this player (cloneable, `Send`).
    pub fn handle(&self) -> PlayerHandle {
        self.handle.clone()
    }

    /// The shared downloader every track fetches through (to share it with other streams, or
    /// to watch its in-flight count).
    pub fn downloader(&self) -> &Downloader {
        &self.downloader
    }

    /// Stops everything: cancels every fetch, ends the threads, then stops the sink and
    /// reports how it went (a [`WavSink`](crate::WavSink) finalizes its file here).
    ///
    /// # Errors
    /// The sink's error.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.notify();
        self.root.cancel();
        let _ = self.handle.tx.send(ControlMsg::Cmd(Command::Quit));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let result = self.sink.take().map_or(Ok(()), |s| s.finish());
        if let Some(rt) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // Dropped inside an async context, where blocking is not allowed.
                rt.shutdown_background();
            } else {
                // Waits for the cancelled fetch tasks to end: nothing runs after close.
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        }
        result
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "the sink failed while the player closed");
        }
    }
}

/// The player's remote control: cheap to clone, `Send + Sync`. Every method only queues a
/// command for the control thread and returns at once (never waits on the network); it fails
/// only with [`Error::Closed`] once the player is gone.
#[derive(Debug, Clone)]
pub struct PlayerHandle {
    tx: flume::Sender<ControlMsg>,
    ids: Arc<AtomicU64>,
}

impl PlayerHandle {
    fn send(&self, cmd: Command) -> Result<()> {
        self.tx
            .send(ControlMsg::Cmd(cmd))
            .map_err(|_| Error::Closed)
    }

    /// Starts, or resumes after a pause. After a stop it starts the track heard last from its
    /// start; after the queue's end, the track appended since (else the queue's first track).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn play(&self) -> Result<()> {
        self.send(Command::Play)
    }

    /// Pauses (the gain ramps down first).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn pause(&self) -> Result<()> {
        self.send(Command::Pause)
    }

    /// Stops and flushes; the downloads of every track are cancelled. `play` starts the
    /// current track again from its start.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn stop(&self) -> Result<()> {
        self.send(Command::Stop)
    }

    /// Seeks the current track to `to` (frame-accurate); ignored while stopped.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn seek(&self, to: Duration) -> Result<()> {
        self.send(Command::Seek(to))
    }

    /// Sets the volume (a gain, 1.0 = unchanged, clamped to 0–4), ramped without a click.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_volume(&self, volume: f32) -> Result<()> {
        self.send(Command::Volume(volume))
    }

    /// Jumps to the next track in play order (stops after the last, unless repeat-all).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn next(&self) -> Result<()> {
        self.send(Command::Next)
    }

    /// Jumps to the previous track in play order (the first restarts).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn previous(&self) -> Result<()> {
        self.send(Command::Previous)
    }

    /// Jumps to the track at `index` of the queue.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn jump(&self, index: usize) -> Result<()> {
        self.send(Command::Jump(index))
    }

    /// Appends a track to the queue; returns its id.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn append(&self, track: impl Into<Track>) -> Result<TrackId> {
        self.insert(usize::MAX, track)
    }

    /// Inserts a track at `index` (clamped to the end); returns its id.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn insert(&self, index: usize, track: impl Into<Track>) -> Result<TrackId> {
        let id = TrackId(self.ids.fetch_add(1, Ordering::Relaxed));
        self.send(Command::Insert(index, id, track.into()))?;
        Ok(id)
    }

    /// Removes the track at `index` (the current one: playback goes on with the next).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn remove(&self, index: usize) -> Result<()> {
        self.send(Command::Remove(index))
    }

    /// Moves the track at `from` to `to`.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn move_track(&self, from: usize, to: usize) -> Result<()> {
        self.send(Command::Move(from, to))
    }

    /// Empties the queue and stops.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn clear(&self) -> Result<()> {
        self.send(Command::Clear)
    }

    /// Sets the repeat mode.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_repeat(&self, repeat: Repeat) -> Result<()> {
        self.send(Command::Repeat(repeat))
    }

    /// Turns shuffle on (a new random order that starts with the current track) or off.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_shuffle(&self, on: bool) -> Result<()> {
        self.send(Command::Shuffle(on))
    }

    /// Sets the ABR mode of HLS tracks (this one and those that follow).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_abr_mode(&self, mode: AbrMode) -> Result<()> {
        self.send(Command::AbrMode(mode))
    }

    /// Caps (or uncaps) the bitrate HLS tracks may choose, in bits per second.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_max_bitrate(&self, bps: Option<u64>) -> Result<()> {
        self.send(Command::MaxBitrate(bps))
    }

    /// Chooses the HLS audio rendition by language or `NAME`, for this track and those that
    /// follow. An HLS track being heard is reopened at the position heard with the new choice
    /// (the stream cannot switch renditions in place); the audio continues from there after a
    /// rebuffer, without a new `TrackStarted`.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_audio(&self, choice: AudioChoice) -> Result<()> {
        self.send(Command::Audio(choice))
    }

    /// Subscribes to the player's events from now on (see [`Event`] for their order).
    /// Events queue up until read: read them, or drop the [`Events`].
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn subscribe(&self) -> Result<Events> {
        let (tx, rx) = flume::unbounded();
        self.send(Command::Subscribe(tx))?;
        Ok(Events { rx })
    }
}

/// A subscription to a player's events: read blocking ([`recv`](Self::recv),
/// [`recv_timeout`](Self::recv_timeout)) or async ([`recv_async`](Self::recv_async), any
/// executor, tokio not required).
#[derive(Debug, Clone)]
pub struct Events {
    rx: flume::Receiver<Event>,
}

impl Events {
    /// The next event, waiting for it; `None` once the player is gone and all were read.
    pub fn recv(&self) -> Option<Event> {
        self.rx.recv().ok()
    }

    /// The next event, waiting at most `timeout`; `None` on timeout or when the player is gone.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// The next event, awaited; `None` once the player is gone and all were read.
    pub async fn recv_async(&self) -> Option<Event> {
        self.rx.recv_async().await.ok()
    }
}
