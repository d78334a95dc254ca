//! Now-playing on the decoded timeline: the source's metadata marks (and a file's own tags)
//! reported on the chunk whose audio is at or after their place, each once.
//!
//! | mark | reported on |
//! |---|---|
//! | `MarkAt::Time(t)` | the chunk that contains media time `t` (the frame offset of `t` in it), or the next chunk when `t` lies before it |
//! | `MarkAt::Byte(pos)` | the first chunk decoded after the reader asked for byte `pos` (the reader's source stops each read at a watched byte, so everything before `pos` has been consumed by then): the packet that starts at, or contains, `pos` |
//! | a file's tags | the first chunk of that file (at open, and after each file joined back to back) |
//!
//! A seek drops the marks before the new position without reporting them; the latest of them
//! becomes [`Decoder::now_playing`](crate::Decoder::now_playing).

use std::time::Duration;

use kithara_stream::{MarkAt, MetadataMark, NowPlaying};

use crate::chunk::{duration_to_frames, PcmChunk};

/// A change of what is playing, heard within a [`PcmChunk`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NowPlayingChange {
    /// What is playing from here on.
    pub now_playing: NowPlaying,
    /// The frame of the chunk at which it takes effect (0 for byte marks and tags, which take
    /// effect with the chunk's first packet).
    pub offset: usize,
    /// The source's number for the mark ([`MetadataMark::seq`]); `None` for a file's own tags.
    pub seq: Option<u64>,
}

/// The marks not reported yet, and what is playing.
#[derive(Debug, Default)]
pub(crate) struct MarkState {
    /// The next mark number to ask the source for.
    next_seq: u64,
    pending: Vec<MetadataMark>,
    /// A file's tags, to be reported with the next chunk.
    tags: Option<NowPlaying>,
    current: Option<NowPlaying>,
}

impl MarkState {
    /// The number of the next mark to ask the source for.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Takes the marks the source recorded since the last call.
    pub(crate) fn add(&mut self, marks: Vec<MetadataMark>) {
        for m in marks {
            self.next_seq = self.next_seq.max(m.seq.saturating_add(1));
            self.pending.push(m);
        }
    }

    /// The byte positions still watched (for a new reader).
    pub(crate) fn watched(&self) -> impl Iterator<Item = u64> + '_ {
        self.pending.iter().filter_map(|m| match m.at {
            MarkAt::Byte(p) => Some(p),
            _ => None,
        })
    }

    /// A file's own tags, reported with the next chunk (the first of that file).
    pub(crate) fn tags(&mut self, np: Option<NowPlaying>) {
        if np.is_some() {
            self.tags = np;
        }
    }

    /// Puts the marks due at `chunk` on it; `crossed(pos)` says whether the reader has asked for
    /// byte `pos`.
    pub(crate) fn attach(&mut self, chunk: &mut PcmChunk, crossed: impl Fn(u64) -> bool) {
        if let Some(np) = self.tags.take() {
            self.current = Some(np.clone());
            chunk.now_playing.push(NowPlayingChange {
                now_playing: np,
                offset: 0,
                seq: None,
            });
        }
        if self.pending.is_empty() {
            return;
        }
        let end = chunk.end_time();
        let frames = chunk.frames();
        let (rate, start) = (chunk.sample_rate, chunk.time);
        let mut due = Vec::new();
        self.pending.retain(|m| {
            let offset = match m.at {
                MarkAt::Time(t) if t < end => {
                    let into = t.saturating_sub(start);
                    let f = usize::try_from(duration_to_frames(into, rate)).unwrap_or(usize::MAX);
                    Some(f.min(frames.saturating_sub(1)))
                }
                MarkAt::Byte(p) if crossed(p) => Some(0),
                _ => None,
            };
            match offset {
                Some(offset) => {
                    due.push((m.seq, offset, m.now_playing.clone()));
                    false
                }
                None => true,
            }
        });
        due.sort_by_key(|&(seq, offset, _)| (offset, seq));
        for (seq, offset, np) in due {
            self.current = Some(np.clone());
            chunk.now_playing.push(NowPlayingChange {
                now_playing: np,
                offset,
                seq: Some(seq),
            });
        }
    }

    /// After a seek to `to` (stream byte `pos` there): `all` are every mark the source keeps.
    /// Those before the position are dropped (the latest becomes what is playing), the others
    /// are pending again.
    pub(crate) fn seek(&mut self, to: Duration, pos: u64, all: Vec<MetadataMark>) {
        self.pending.clear();
        self.tags = None;
        let mut latest: Option<MetadataMark> = None;
        for m in all {
            self.next_seq = self.next_seq.max(m.seq.saturating_add(1));
            let before = match m.at {
                MarkAt::Time(t) => t <= to,
                MarkAt::Byte(p) => p <= pos,
                _ => false,
            };
            if !before {
                self.pending.push(m);
            } else if latest.as_ref().is_none_or(|l| l.seq < m.seq) {
                latest = Some(m);
            }
        }
        if let Some(m) = latest {
            self.current = Some(m.now_playing);
        }
    }

    /// What is playing as of the last chunk handed out.
    pub(crate) fn current(&self) -> Option<&NowPlaying> {
        self.current.as_ref()
    }

    /// Sets what is playing before any chunk (a file's tags at open).
    pub(crate) fn set_current(&mut self, np: Option<NowPlaying>) {
        if np.is_some() {
            self.current = np;
        }
    }
}
