//! `kithara play`: URLs and paths as one gapless queue through kithara-play.
//!
//! The sink is the default device (feature `cpal`), a null sink (real-time pace, no sound) or a
//! WAV file (rendered as fast as decoding allows). The events become a status line on a
//! terminal, plain lines otherwise, or JSON lines (`--json`); on a terminal the keys control the
//! player (see [`keys`]). The tracks read through the persistent cache unless `--no-cache`.

mod keys;
mod status;

use std::{
    collections::HashMap,
    io::{IsTerminal, Write},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
    time::Duration,
};

use anyhow::{bail, Context, Result};
use kithara_file::FileSrc;
use kithara_play::{
    AudioSink, CacheChoice, Event, NullSink, Player, PlayerConfig, PlayerHandle, SinkFormat, Track,
    WavSink,
};
use kithara_storage::AssetStore;
use kithara_stream::dl::DownloaderConfig;

use self::{
    keys::{Key, Keys},
    status::Status,
};
use crate::{
    args::{PlayArgs, SinkArg},
    Ui,
};

/// How long the loop waits for an event before it looks at the keys again.
const POLL: Duration = Duration::from_millis(50);
/// Seek step of ← and →.
const SEEK_STEP: Duration = Duration::from_secs(10);
/// Volume step of ↑ and ↓, and the loudest volume.
const VOLUME_STEP: f32 = 0.1;
const VOLUME_MAX: f32 = 2.0;

pub(crate) fn run(
    args: PlayArgs,
    ui: Ui,
    cache: Option<AssetStore>,
    rt: &tokio::runtime::Handle,
) -> Result<()> {
    let config = PlayerConfig::builder()
        .downloader(DownloaderConfig::builder().system_proxy(true).build())
        .wait_timeout(args.timeout)
        .cache(cache.map_or(CacheChoice::Off, CacheChoice::Store))
        .maybe_audio_language(args.audio_lang.clone())
        .build();
    let format = SinkFormat::new(args.rate, args.channels);
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::Relaxed);
        }
    });
    match &args.sink {
        SinkArg::Wav(path) => {
            let sink = WavSink::create(path, format)
                .with_context(|| format!("could not create {}", path.display()))?;
            play(&args, ui, config, sink, &interrupted)
        }
        SinkArg::Null => play(&args, ui, config, NullSink::new(format), &interrupted),
        SinkArg::Default => default_sink(&args, ui, config, &interrupted),
    }
}

#[cfg(feature = "cpal")]
fn default_sink(
    args: &PlayArgs,
    ui: Ui,
    config: PlayerConfig,
    interrupted: &AtomicBool,
) -> Result<()> {
    let sink = kithara_play::CpalSink::default_device()
        .context("could not open the default audio device")?;
    play(args, ui, config, sink, interrupted)
}

#[cfg(not(feature = "cpal"))]
fn default_sink(_: &PlayArgs, _: Ui, _: PlayerConfig, _: &AtomicBool) -> Result<()> {
    bail!(
        "this kithara was built without the sound card output: build it with `--features cpal` \
         (on Linux after `apt-get install libasound2-dev`), or name another sink: \
         --sink null or --sink wav:FILE"
    )
}

/// Plays the queue on `sink` until it ends, `q` or Ctrl-C.
fn play(
    args: &PlayArgs,
    ui: Ui,
    config: PlayerConfig,
    sink: impl AudioSink,
    interrupted: &AtomicBool,
) -> Result<()> {
    let player = Player::new(config, sink).context("could not start the player")?;
    let handle = player.handle();
    let events = handle.subscribe()?;
    let mut labels = HashMap::new();
    for src in &args.sources {
        let track = track_of(src)?;
        let label = track.label();
        labels.insert(handle.append(track)?, label);
    }
    handle.set_volume(args.volume)?;
    handle.play()?;
    let (tx, keys_rx) = mpsc::channel();
    let keys = if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Some(Keys::start(tx)?)
    } else {
        drop(tx);
        None
    };
    let mut view = View {
        status: Status::new(labels),
        json: args.json,
        status_line: !args.json && ui.summary && std::io::stderr().is_terminal(),
        plain: !args.json && ui.summary,
        raw: keys.is_some(),
        volume: args.volume,
        failed: 0,
    };
    let outcome = view.run(&handle, &events, &keys_rx, interrupted);
    drop(keys);
    view.clear();
    player.close().context("could not close the player")?;
    outcome?;
    if view.failed > 0 {
        bail!("{} of {} tracks failed", view.failed, args.sources.len());
    }
    Ok(())
}

fn track_of(src: &FileSrc) -> Result<Track> {
    match src {
        FileSrc::Remote(url) => Ok(Track::url(url.clone())),
        FileSrc::Local(path) => Ok(Track::path(path.clone())),
        other => bail!("cannot play {other:?}"),
    }
}

/// The loop's state: what is shown and how.
struct View {
    status: Status,
    /// Events as JSON lines on stdout.
    json: bool,
    /// A status line redrawn on stderr (a terminal).
    status_line: bool,
    /// Lines for track changes and failures on stderr.
    plain: bool,
    /// The terminal is in raw mode (lines end in `\r\n`).
    raw: bool,
    volume: f32,
    failed: usize,
}

impl View {
    /// Runs until the queue ends, a quit key or an interrupt.
    fn run(
        &mut self,
        handle: &PlayerHandle,
        events: &kithara_play::Events,
        keys: &mpsc::Receiver<Key>,
        interrupted: &AtomicBool,
    ) -> Result<()> {
        loop {
            if interrupted.load(Ordering::Relaxed) {
                return Ok(());
            }
            while let Ok(key) = keys.try_recv() {
                if key == Key::Quit {
                    return Ok(());
                }
                self.on_key(handle, key)?;
            }
            let Some(event) = events.recv_timeout(POLL) else {
                continue;
            };
            self.show(&event)?;
            match event {
                Event::TrackFailed { .. } => self.failed = self.failed.saturating_add(1),
                Event::QueueEnded => return Ok(()),
                _ => {}
            }
        }
    }

    fn on_key(&mut self, handle: &PlayerHandle, key: Key) -> Result<()> {
        match key {
            Key::PlayPause if self.status.paused() => handle.play()?,
            Key::PlayPause => handle.pause()?,
            Key::Seek(dir) => {
                let at = self.status.position;
                let to = if dir < 0 {
                    at.saturating_sub(SEEK_STEP)
                } else {
                    at.saturating_add(SEEK_STEP)
                };
                handle.seek(to)?;
            }
            Key::Volume(dir) => {
                let step = if dir < 0 { -VOLUME_STEP } else { VOLUME_STEP };
                self.volume = (self.volume + step).clamp(0.0, VOLUME_MAX);
                handle.set_volume(self.volume)?;
            }
            Key::Next => handle.next()?,
            Key::Previous => handle.previous()?,
            Key::Quit => {}
        }
        Ok(())
    }

    fn show(&mut self, event: &Event) -> Result<()> {
        let eol = if self.raw { "\r\n" } else { "\n" };
        if self.json {
            if let Some(v) = status::to_json(event) {
                let mut out = std::io::stdout().lock();
                write!(out, "{v}{eol}")?;
                out.flush()?;
            }
        }
        let line = self.status.apply(event);
        let mut err = std::io::stderr().lock();
        if let Some(line) = line.filter(|_| self.plain) {
            if self.status_line {
                write!(err, "\r\x1b[2K")?;
            }
            write!(err, "{line}{eol}")?;
        }
        if self.status_line {
            write!(err, "\r\x1b[2K{}", self.status.line())?;
        }
        err.flush()?;
        Ok(())
    }

    /// Ends the status line.
    fn clear(&self) {
        if self.status_line {
            let eol = if self.raw { "\r\n" } else { "\n" };
            eprint!("{eol}");
        }
    }
}
