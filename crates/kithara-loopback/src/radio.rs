//! Internet radio routes: an endless body that loops a payload, with ICY metadata interleaved
//! when the request asks for it (`Icy-MetaData: 1`).
//!
//! The wire format is SHOUTcast/Icecast's: `metaint` audio bytes, then one length byte `n`, then
//! `16 * n` bytes of metadata (`StreamTitle='…';StreamUrl='…';`, zero-padded), and so on. A block
//! carries the title only when it changed since the last block (else `n = 0`), as stations do.
//! The title of loop `k` (from 1) is `"{title_prefix} {k}"`; a block names the title of the loop
//! its next audio byte belongs to. Every connection starts at the beginning of the payload.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Notify;

use http::StatusCode;

use crate::body::{Aborted, BodyPlan};
use crate::log::ResponseEnd;
use crate::respond::{Plan, RouteEntry};
use crate::route::Fault;
use crate::throttle::Pacer;

/// What a radio route sends. Install with [`Route::radio`](crate::Route::radio).
#[derive(Debug, Clone)]
pub struct Radio {
    pub(crate) payload: Bytes,
    pub(crate) metaint: usize,
    pub(crate) title_prefix: String,
    pub(crate) stream_url: Option<String>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Radio {
    /// A station looping `payload` (at least one byte is sent: an empty payload sends zeros),
    /// `icy-metaint` 16000, titles "Track 1", "Track 2", …, and the station headers `icy-name:
    /// Loopback FM`, `icy-genre: Test`, `icy-br: 128`, `icy-url`, `icy-description`.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        let mut payload = payload.into();
        if payload.is_empty() {
            payload = Bytes::from_static(&[0]);
        }
        Self {
            payload,
            metaint: 16_000,
            title_prefix: String::from("Track"),
            stream_url: None,
            headers: vec![
                ("icy-name", String::from("Loopback FM")),
                ("icy-genre", String::from("Test")),
                ("icy-br", String::from("128")),
                ("icy-url", String::from("http://127.0.0.1/")),
                ("icy-description", String::from("an endless loop")),
            ],
        }
    }

    /// Audio bytes between two metadata blocks (`icy-metaint`, at least 1).
    #[must_use]
    pub fn metaint(mut self, n: usize) -> Self {
        self.metaint = n.max(1);
        self
    }

    /// The titles are `"{prefix} 1"`, `"{prefix} 2"`, … (default `Track`).
    #[must_use]
    pub fn title_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.title_prefix);
        self
    }

    /// Adds `StreamUrl='url';` to every block that carries a title.
    #[must_use]
    pub fn stream_url(mut self, url: &str) -> Self {
        self.stream_url = Some(url.to_owned());
        self
    }

    /// Sets (or, with an empty value, removes) a station header such as `icy-br`.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        if !value.is_empty() {
            self.headers.push((name, value.to_owned()));
        }
        self
    }

    /// The title of loop `k` (from 1).
    pub fn title(&self, k: u64) -> String {
        format!("{} {k}", self.title_prefix)
    }

    /// The audio bytes a client keeps of the first `n` (stripped of every block): the payload
    /// looped.
    pub fn audio(&self, from: u64, n: usize) -> Vec<u8> {
        let len = self.payload.len() as u64;
        (from..from + n as u64)
            .map(|i| self.payload[(i % len) as usize])
            .collect()
    }

    /// The titles a client of `metaint` hears, with the audio byte each takes effect at (the
    /// first after its block), for the first `audio_bytes` audio bytes.
    pub fn titles(&self, audio_bytes: u64) -> Vec<(u64, String)> {
        let mut out: Vec<(u64, String)> = Vec::new();
        let step = self.metaint as u64;
        let mut at = step;
        while at <= audio_bytes {
            let t = self.title(at / self.payload.len() as u64 + 1);
            if out.last().is_none_or(|(_, last)| *last != t) {
                out.push((at, t));
            }
            at += step;
        }
        out
    }

    /// Response headers: the station's, and `icy-metaint` when blocks are interleaved.
    pub(crate) fn response_headers(&self, icy: bool, content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(*name, v);
            }
        }
        if icy {
            h.insert("icy-metaint", HeaderValue::from(self.metaint));
        }
        h
    }
}

/// Produces the wire bytes of one connection.
#[derive(Debug)]
pub(crate) struct Wire {
    radio: Radio,
    icy: bool,
    /// Audio bytes produced so far.
    audio: u64,
    /// Audio bytes until the next block.
    to_block: usize,
    /// The rest of a block being sent.
    block: Bytes,
    last_title: Option<String>,
}

impl Wire {
    pub(crate) fn new(radio: Radio, icy: bool) -> Self {
        let to_block = radio.metaint;
        Self {
            radio,
            icy,
            audio: 0,
            to_block,
            block: Bytes::new(),
            last_title: None,
        }
    }

    fn next_block(&mut self) -> Bytes {
        let title = self
            .radio
            .title(self.audio / self.radio.payload.len() as u64 + 1);
        if self.last_title.as_ref() == Some(&title) {
            return Bytes::from_static(&[0]);
        }
        let mut text = format!("StreamTitle='{title}';");
        if let Some(url) = &self.radio.stream_url {
            text.push_str(&format!("StreamUrl='{url}';"));
        }
        self.last_title = Some(title);
        let blocks = text.len().div_ceil(16).min(255);
        let mut b = BytesMut::with_capacity(1 + blocks * 16);
        b.put_u8(blocks as u8);
        b.extend_from_slice(&text.as_bytes()[..text.len().min(blocks * 16)]);
        b.resize(1 + blocks * 16, 0);
        b.freeze()
    }

    /// The next `n` wire bytes.
    pub(crate) fn take(&mut self, n: usize) -> Bytes {
        let len = self.radio.payload.len();
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let want = n - out.len();
            if !self.block.is_empty() {
                let k = want.min(self.block.len());
                out.extend_from_slice(&self.block.split_to(k));
                continue;
            }
            if self.icy && self.to_block == 0 {
                self.block = self.next_block();
                self.to_block = self.radio.metaint;
                continue;
            }
            let at = (self.audio % len as u64) as usize;
            let mut k = want.min(len - at);
            if self.icy {
                k = k.min(self.to_block);
                self.to_block -= k;
            }
            out.extend_from_slice(&self.radio.payload[at..at + k]);
            self.audio += k as u64;
        }
        out.freeze()
    }
}

/// One connection's body: endless, with an optional cut and stall.
pub(crate) struct RadioPlan {
    pub(crate) wire: Wire,
    pub(crate) chunk: usize,
    /// Cut the connection (reset) after this many wire bytes.
    pub(crate) reset_after: Option<u64>,
    /// Send nothing for this long after this many wire bytes.
    pub(crate) stall: Option<(u64, Duration)>,
    /// The route's pace (a real station sends at its bitrate).
    pub(crate) pacer: Option<Pacer>,
}

impl std::fmt::Debug for RadioPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadioPlan")
            .field("chunk", &self.chunk)
            .field("reset_after", &self.reset_after)
            .field("stall", &self.stall)
            .finish_non_exhaustive()
    }
}

pub(crate) type RadioStream = Pin<Box<dyn futures::Stream<Item = Result<Bytes, Aborted>> + Send>>;

struct State {
    plan: RadioPlan,
    sent: u64,
    flushed: Arc<Notify>,
    done: bool,
}

/// The body stream of a radio response.
pub(crate) fn stream(plan: RadioPlan, flushed: Arc<Notify>) -> RadioStream {
    let state = State {
        plan,
        sent: 0,
        flushed,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        if let Some((at, d)) = s.plan.stall {
            if s.sent >= at {
                s.plan.stall = None;
                if d == Duration::MAX {
                    futures::future::pending::<()>().await;
                }
                tokio::time::sleep(d).await;
            }
        }
        let mut n = s.plan.chunk as u64;
        if let Some((at, _)) = s.plan.stall {
            n = n.min(at - s.sent).max(1);
        }
        if let Some(cut) = s.plan.reset_after {
            if s.sent >= cut {
                s.done = true;
                s.flushed.notified().await;
                return Some((Err(Aborted), s));
            }
            n = n.min(cut - s.sent);
        }
        let mut n = usize::try_from(n).unwrap_or(usize::MAX);
        if let Some(pacer) = &mut s.plan.pacer {
            n = pacer.frame(n);
            pacer.wait(n).await;
        }
        let data = s.plan.wire.take(n);
        s.sent += data.len() as u64;
        Some((Ok(data), s))
    }))
}

/// A radio route's answer: `200`, the station's headers, an endless body.
pub(crate) fn plan(entry: &RouteEntry, head: bool, icy: bool) -> Plan {
    let route = &entry.route;
    let Some(radio) = route.radio.clone() else {
        return crate::respond::text(StatusCode::INTERNAL_SERVER_ERROR, head);
    };
    let headers = radio.response_headers(icy, &route.content_type);
    let metaint = icy.then_some(radio.metaint as u64);
    if head {
        return Plan {
            status: StatusCode::OK,
            headers,
            body_start: 0,
            body: BodyPlan::Empty(ResponseEnd::Completed),
            icy_metaint: metaint,
        };
    }
    let mut reset_after = None;
    let mut stall = None;
    for (i, f) in route.faults.iter().enumerate() {
        match *f {
            Fault::ResetAfter { after, times } if entry.take(i, times) => {
                reset_after = Some(reset_after.map_or(after, |a: u64| a.min(after)));
            }
            Fault::Stall {
                after,
                stall: d,
                times,
            } if stall.is_none() && entry.take(i, times) => stall = Some((after, d)),
            _ => {}
        }
    }
    let plan = RadioPlan {
        wire: Wire::new(radio, icy),
        chunk: route.chunk_size,
        reset_after,
        stall,
        pacer: route.throttle.as_ref().map(Pacer::new),
    };
    Plan {
        status: StatusCode::OK,
        headers,
        body_start: 0,
        body: BodyPlan::Radio(plan),
        icy_metaint: metaint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strips blocks as a client does; returns the audio and the block texts.
    fn strip(wire: &[u8], metaint: usize) -> (Vec<u8>, Vec<String>) {
        let (mut audio, mut texts, mut i) = (Vec::new(), Vec::new(), 0);
        while i < wire.len() {
            let k = metaint.min(wire.len() - i);
            audio.extend_from_slice(&wire[i..i + k]);
            i += k;
            if i >= wire.len() {
                break;
            }
            let n = wire[i] as usize * 16;
            i += 1;
            if n > 0 {
                let end = (i + n).min(wire.len());
                texts.push(String::from_utf8_lossy(&wire[i..end]).into_owned());
                i = end;
            }
        }
        (audio, texts)
    }

    #[test]
    fn the_wire_interleaves_blocks_and_loops_the_payload() {
        let radio = Radio::new(Bytes::from_static(b"0123456789")).metaint(4);
        let mut wire = Wire::new(radio.clone(), true);
        let mut all = Vec::new();
        for n in [1, 7, 3, 100, 2] {
            all.extend_from_slice(&wire.take(n));
        }
        let (audio, texts) = strip(&all, 4);
        assert_eq!(audio, radio.audio(0, audio.len()));
        assert!(texts[0].starts_with("StreamTitle='Track 1';"));
        assert!(texts[1].starts_with("StreamTitle='Track 2';"));
        let mut plain = Wire::new(radio.clone(), false);
        assert_eq!(&plain.take(25)[..], &radio.audio(0, 25)[..]);
        assert_eq!(
            radio.titles(12),
            vec![(4, "Track 1".into()), (12, "Track 2".into())]
        );
    }
}
