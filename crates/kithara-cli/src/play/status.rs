//! What `kithara play` shows: the status line (one owner of the facts heard so far) and the events
//! as JSON lines.

use std::{collections::HashMap, time::Duration};

use kithara_play::{Event, PlayerState, TrackId};
use kithara_stream::NowPlaying;
use serde_json::{json, Value};

/// The facts of the track being heard, gathered from the events.
#[derive(Debug, Default)]
pub(crate) struct Status {
    /// The queue's labels by track id, and their count.
    labels: HashMap<TrackId, String>,
    total: usize,
    state: Option<PlayerState>,
    index: Option<usize>,
    title: Option<String>,
    /// What is playing, as the stream or the file's tags say ("artist – title").
    now_playing: Option<String>,
    codec: Option<String>,
    rate: u32,
    channels: u16,
    duration: Option<Duration>,
    variant: Option<usize>,
    /// Bits per second of the track or variant heard.
    bitrate: Option<u64>,
    pub(crate) position: Duration,
    buffered: Duration,
    buffered_bytes: Option<u64>,
}

impl Status {
    /// A status for a queue of `labels`.
    pub(crate) fn new(labels: HashMap<TrackId, String>) -> Self {
        let total = labels.len();
        Self {
            labels,
            total,
            ..Self::default()
        }
    }

    /// Whether the player is paused.
    pub(crate) fn paused(&self) -> bool {
        self.state == Some(PlayerState::Paused)
    }

    /// Takes in `event`; returns a line worth printing on its own (track changes, failures).
    pub(crate) fn apply(&mut self, event: &Event) -> Option<String> {
        match event {
            Event::StateChanged(s) => self.state = Some(*s),
            Event::Position {
                position,
                buffered,
                buffered_bytes,
                now_playing,
                ..
            } => {
                if let Some(np) = now_playing {
                    self.now_playing = describe(np);
                }
                self.position = *position;
                self.buffered = *buffered;
                self.buffered_bytes = *buffered_bytes;
            }
            Event::BufferingStarted {
                level, level_bytes, ..
            }
            | Event::BufferingEnded {
                level, level_bytes, ..
            } => {
                self.buffered = *level;
                self.buffered_bytes = *level_bytes;
            }
            Event::TrackStarted {
                track,
                index,
                info,
                bitrate,
            } => {
                self.index = *index;
                self.bitrate = *bitrate;
                self.title = self.labels.get(track).cloned();
                self.now_playing = None;
                self.codec = Some(info.codec_name.clone());
                (self.rate, self.channels) = (info.sample_rate, info.channels);
                self.duration = info.duration;
                self.variant = None;
                self.position = Duration::ZERO;
                return Some(format!(
                    "playing {} {} ({}, {} Hz, {} ch)",
                    self.n_of_m(),
                    self.title.as_deref().unwrap_or("?"),
                    info.codec_name,
                    info.sample_rate,
                    info.channels
                ));
            }
            Event::VariantSwitched {
                variant, bitrate, ..
            } => {
                self.variant = *variant;
                if bitrate.is_some() {
                    self.bitrate = *bitrate;
                }
            }
            Event::NowPlaying { now_playing, .. } => {
                self.now_playing = describe(now_playing);
                return self
                    .now_playing
                    .as_ref()
                    .map(|t| format!("now playing: {t}"));
            }
            Event::TrackFailed { track, error } => {
                let label = self.labels.get(track).map_or("?", String::as_str);
                return Some(format!("failed: {label}: {}", error_chain(error.as_ref())));
            }
            _ => {}
        }
        None
    }

    fn n_of_m(&self) -> String {
        match self.index {
            Some(i) => format!("[{}/{}]", i.saturating_add(1), self.total),
            None => format!("[?/{}]", self.total),
        }
    }

    /// The one-line status.
    pub(crate) fn line(&self) -> String {
        if self.codec.is_none() {
            return format!("… opening {}", self.n_of_m());
        }
        let state = match self.state {
            Some(PlayerState::Playing) => "▶",
            Some(PlayerState::Paused) => "⏸",
            Some(PlayerState::Buffering) => "…",
            _ => "■",
        };
        let duration = self
            .duration
            .map_or_else(|| String::from("--:--"), fmt_time);
        let bytes = self
            .buffered_bytes
            .map(|b| format!(" ({})", crate::progress::fmt_bytes(b)))
            .unwrap_or_default();
        let variant = self
            .variant
            .map(|v| format!("  variant {v}"))
            .unwrap_or_default();
        let bitrate = self.bitrate.map(fmt_bitrate).unwrap_or_default();
        format!(
            "{state} {} {} / {duration}  buf {:.1} s{bytes}  {}{bitrate} {} Hz {} ch{variant}  {}",
            self.n_of_m(),
            fmt_time(self.position),
            self.buffered.as_secs_f64(),
            self.codec.as_deref().unwrap_or("?"),
            self.rate,
            self.channels,
            self.now_playing
                .as_deref()
                .or(self.title.as_deref())
                .unwrap_or(""),
        )
    }
}

/// `artist – title`, `title` or `artist`; `None` when it names neither.
fn describe(np: &NowPlaying) -> Option<String> {
    match (&np.artist, &np.title) {
        (Some(a), Some(t)) => Some(format!("{a} – {t}")),
        (a, t) => t.clone().or_else(|| a.clone()),
    }
}

/// ` 128 kbit/s`.
fn fmt_bitrate(bps: u64) -> String {
    format!(" {} kbit/s", bps.saturating_add(500) / 1000)
}

/// `m:ss`.
pub(crate) fn fmt_time(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// An error and its sources, `a: b: c`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `event` as one JSON object (`{"event": "...", ...}`); `None` for an event this version does
/// not know.
pub(crate) fn to_json(event: &Event) -> Option<Value> {
    let secs = |d: &Duration| d.as_secs_f64();
    Some(match event {
        Event::StateChanged(s) => {
            json!({"event": "state", "state": format!("{s:?}").to_lowercase()})
        }
        Event::Position {
            track,
            position,
            buffered,
            buffered_bytes,
            ..
        } => json!({"event": "position", "track": track.0,
            "position_secs": secs(position), "buffered_secs": secs(buffered),
            "buffered_bytes": buffered_bytes}),
        Event::BufferingStarted {
            level, level_bytes, ..
        } => json!({"event": "buffering_started", "level_secs": secs(level),
            "level_bytes": level_bytes}),
        Event::BufferingEnded {
            level, level_bytes, ..
        } => json!({"event": "buffering_ended", "level_secs": secs(level),
            "level_bytes": level_bytes}),
        Event::TrackStarted {
            track,
            index,
            info,
            bitrate,
        } => json!({"event": "track_started",
            "track": track.0, "index": index, "codec": info.codec_name, "bitrate": bitrate,
            "sample_rate": info.sample_rate, "channels": info.channels, "frames": info.frames,
            "duration_secs": info.duration.as_ref().map(secs)}),
        Event::QueueAdvanced { track, index } => {
            json!({"event": "queue_advanced", "track": track.0, "index": index})
        }
        Event::TrackEnded { track } => json!({"event": "track_ended", "track": track.0}),
        Event::TrackFailed { track, error } => json!({"event": "track_failed", "track": track.0,
            "error": error_chain(error.as_ref())}),
        Event::VariantSwitched {
            track,
            variant,
            bitrate,
            ..
        } => json!({"event": "variant_switched", "track": track.0, "variant": variant,
            "bitrate": bitrate}),
        Event::NowPlaying {
            track,
            now_playing,
            position,
            ..
        } => json!({"event": "now_playing", "track": track.0, "title": now_playing.title,
            "artist": now_playing.artist, "url": now_playing.url,
            "position_secs": secs(position)}),
        Event::QueueEnded => json!({"event": "queue_ended"}),
        Event::QueueChanged { len } => json!({"event": "queue_changed", "len": len}),
        Event::Error(e) => json!({"event": "error", "error": error_chain(e.as_ref())}),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_well() {
        assert_eq!(fmt_time(Duration::from_secs(5)), "0:05");
        assert_eq!(fmt_time(Duration::from_secs(125)), "2:05");
        assert_eq!(fmt_bitrate(127_600), " 128 kbit/s");
    }

    #[test]
    fn the_status_line_shows_what_is_playing_instead_of_the_url() {
        let mut s = Status::new(HashMap::from([(TrackId(1), "http://radio/x".to_owned())]));
        s.codec = Some("mp3".to_owned());
        s.title = Some("http://radio/x".to_owned());
        assert!(s.line().ends_with("http://radio/x"));
        let np = NowPlaying::titled("Song").with_artist(Some("Band".to_owned()));
        let line = s.apply(&now_playing(np));
        assert_eq!(line.as_deref(), Some("now playing: Band – Song"));
        assert!(s.line().ends_with("Band – Song"), "{}", s.line());
    }

    fn now_playing(np: NowPlaying) -> Event {
        Event::NowPlaying {
            track: TrackId(1),
            now_playing: np,
            position: Duration::from_secs(3),
        }
    }

    #[test]
    fn events_become_json_lines() {
        let v = to_json(&Event::QueueEnded);
        assert_eq!(v, Some(json!({"event": "queue_ended"})));
        let v = to_json(&Event::TrackEnded { track: TrackId(3) });
        assert_eq!(v, Some(json!({"event": "track_ended", "track": 3})));
    }
}
