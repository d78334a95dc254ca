//! One replay: the bundled TS ladder looped to the trace's length on its own throttled routes,
//! a `Stream<Hls>` with the rule under test, the trace played on the throttle, the player, and
//! the stream's events.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use kithara_hls::{abr::AbrPolicy, Hls, HlsConfig, HlsEvent};
use kithara_loopback::{media, ResponseEnd, Route, ThrottleHandle};
use kithara_stream::{Received, Stream};
use tokio::sync::oneshot;

use super::player::{play, Played};
use crate::fixture::Fixture;

/// BANDWIDTH of the bundled TS ladder's variants, bits per second.
pub(super) const LADDER: [u64; 3] = [20_000, 28_000, 36_000];

/// One segment of the looped ladder: its duration and, per variant, its bytes.
#[derive(Debug, Clone)]
struct Segment {
    duration: f64,
    bytes: [&'static [u8]; 3],
}

/// The bundled ladder's whole segments (the short last one is left out), to be looped.
#[derive(Debug, Clone)]
pub(super) struct Ladder {
    segments: Vec<Segment>,
}

impl Ladder {
    /// Reads the bundled TS playlists and segments.
    pub(super) fn bundled() -> Result<Self> {
        let master = text("hls/master.m3u8")?;
        for bw in LADDER {
            if !master.contains(&format!("BANDWIDTH={bw},")) {
                bail!("the bundled hls/master.m3u8 has no variant of BANDWIDTH {bw}");
            }
        }
        let mut per_variant: Vec<Vec<(f64, &'static [u8])>> = Vec::new();
        for v in 0..LADDER.len() {
            let list = text(&format!("hls/ts/v{v}.m3u8"))?;
            let mut segs = Vec::new();
            let mut duration = None;
            for line in list.lines().map(str::trim) {
                if let Some(d) = line.strip_prefix("#EXTINF:") {
                    let d = d.split(',').next().unwrap_or_default();
                    duration = Some(d.parse::<f64>().with_context(|| {
                        format!("hls/ts/v{v}.m3u8: {line:?} is not a duration")
                    })?);
                } else if !line.is_empty() && !line.starts_with('#') {
                    let d = duration
                        .take()
                        .with_context(|| format!("hls/ts/v{v}.m3u8: {line:?} has no EXTINF"))?;
                    let file = media::get(&format!("hls/ts/{line}"))
                        .with_context(|| format!("the bundled hls/ts/{line} is missing"))?;
                    if d >= 1.0 {
                        segs.push((d, file.bytes));
                    }
                }
            }
            per_variant.push(segs);
        }
        let n = per_variant[0].len();
        if n == 0 || per_variant.iter().any(|s| s.len() != n) {
            bail!("the bundled TS variants do not list the same whole segments");
        }
        let segments = (0..n)
            .map(|i| Segment {
                duration: per_variant[0][i].0,
                bytes: [
                    per_variant[0][i].1,
                    per_variant[1][i].1,
                    per_variant[2][i].1,
                ],
            })
            .collect();
        Ok(Self { segments })
    }

    /// Duration of the `i`-th segment of the loop.
    pub(super) fn duration(&self, i: usize) -> f64 {
        self.segments[i % self.segments.len()].duration
    }

    /// The rate of variant `v`'s bytes over its media, bits per second (TS overhead included).
    pub(super) fn real_bps(&self, v: usize) -> f64 {
        let (mut bytes, mut secs) = (0usize, 0.0);
        for s in &self.segments {
            bytes += s.bytes.get(v).map_or(0, |b| b.len());
            secs += s.duration;
        }
        bytes as f64 * 8.0 / secs.max(1e-9)
    }

    /// Whole segments of the bundled ladder.
    pub(super) fn len(&self) -> usize {
        self.segments.len()
    }
}

fn text(name: &str) -> Result<&'static str> {
    let file = media::get(name).with_context(|| format!("the bundled {name} is missing"))?;
    std::str::from_utf8(file.bytes).with_context(|| format!("the bundled {name} is not UTF-8"))
}

/// The setting of one replay.
pub(super) struct Replay<'a> {
    /// Route prefix, unique per replay (`/abr/<trace>/<rule>/<round>`).
    pub(super) prefix: String,
    /// Time compression.
    pub(super) k: f64,
    /// Segments played (the ladder looped).
    pub(super) segments: usize,
    /// `(start media second, bits per second at fixture scale)`, by ascending time.
    pub(super) trace: &'a [(f64, f64)],
    /// Makes the rule under test, given K.
    pub(super) rule: fn(f64) -> Box<dyn AbrPolicy>,
}

/// What one replay measured.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    /// The player's measurements.
    pub(super) played: Played,
    /// Variant played of every segment, by media sequence.
    pub(super) variants: Vec<usize>,
    /// `(media seconds since the open, variant)` of every segment fetched.
    pub(super) fetched: Vec<(f64, usize)>,
    /// `(media seconds since the open, media seconds fetched so far)`.
    pub(super) fetched_media: Vec<(f64, f64)>,
}

/// Adds the routes of `r` (master with BANDWIDTH × K, looped media playlists, segments), all
/// paced by `throttle`.
fn mount(fx: &Fixture<'_>, ladder: &Ladder, r: &Replay<'_>, throttle: &ThrottleHandle) {
    let route = |body: bytes::Bytes| Route::new(body).throttle_handle(throttle.clone());
    let mut master = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for (v, bw) in LADDER.iter().enumerate() {
        // The policy compares a wall-clock throughput with these: same time base as the replay.
        let scaled = (*bw as f64 * r.k).round() as u64;
        master.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={scaled},CODECS=\"mp4a.40.2\"\nts/v{v}.m3u8\n"
        ));
    }
    fx.server.route(
        &format!("{}/master.m3u8", r.prefix),
        route(master.into_bytes().into()),
    );
    for v in 0..LADDER.len() {
        let mut list = String::from(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n",
        );
        for i in 0..r.segments {
            let seg = &ladder.segments[i % ladder.len()];
            list.push_str(&format!("#EXTINF:{:.6},\nv{v}-{i:03}.ts\n", seg.duration));
            fx.server.route(
                &format!("{}/ts/v{v}-{i:03}.ts", r.prefix),
                route(bytes::Bytes::from_static(seg.bytes[v])),
            );
        }
        list.push_str("#EXT-X-ENDLIST\n");
        fx.server.route(
            &format!("{}/ts/v{v}.m3u8", r.prefix),
            route(list.into_bytes().into()),
        );
    }
}

/// Bytes per second of the throttle for `bps` at fixture scale, compressed by `k`.
fn rate(bps: f64, k: f64) -> u64 {
    ((bps * k / 8.0).round() as u64).max(1)
}

/// Runs one replay on this thread (the throttle and the events run on the fixture's runtime).
pub(super) fn run(fx: &Fixture<'_>, ladder: &Ladder, r: &Replay<'_>) -> Result<Outcome> {
    let first = r.trace.first().map_or(0.0, |p| p.1);
    let throttle = ThrottleHandle::new(rate(first, r.k));
    mount(fx, ladder, r, &throttle);
    let config = HlsConfig::builder()
        .url(fx.server.url(&format!("{}/master.m3u8", r.prefix)))
        .downloader(fx.downloader.clone())
        .abr_policy({
            let (make, k) = (r.rule, r.k);
            move || make(k)
        })
        .options(
            kithara_stream::StreamOptions::builder()
                .events_capacity(4096)
                .wait_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    let opened = Instant::now();
    let k = r.k;
    let trace: Vec<(f64, f64)> = r.trace.to_vec();
    let pacer = fx.rt.spawn(async move {
        let start = tokio::time::Instant::from_std(opened);
        for (t, bps) in trace {
            tokio::time::sleep_until(start + Duration::from_secs_f64(t / k)).await;
            throttle.set(rate(bps, k));
        }
    });
    let stream = fx.rt.block_on(Stream::<Hls>::new(config));
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            pacer.abort();
            return Err(anyhow!(e).context("could not open the HLS stream"));
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let events = fx.rt.spawn(collect(stream.events(), stopped, opened, k));
    let played = play(&mut stream, k, opened);
    pacer.abort();
    let _ = stop.send(());
    let seen = fx.rt.block_on(events).context("the events task failed")??;
    drop(stream);
    let played = played?;
    let variants = played_variants(fx, r)?;
    Ok(outcome(played, variants, &seen, ladder))
}

/// The variant of every segment as served: the last completed response of each, from the
/// server's log.
fn played_variants(fx: &Fixture<'_>, r: &Replay<'_>) -> Result<Vec<usize>> {
    let mut by_seq: BTreeMap<usize, usize> = BTreeMap::new();
    let dir = format!("{}/ts/v", r.prefix);
    for rec in fx.server.requests() {
        if rec.end != Some(ResponseEnd::Completed) || rec.status != 200 {
            continue;
        }
        let Some(name) = rec.path.strip_prefix(&dir) else {
            continue;
        };
        let Some((v, seq)) = name.strip_suffix(".ts").and_then(|n| n.split_once('-')) else {
            continue;
        };
        if let (Ok(v), Ok(seq)) = (v.parse::<usize>(), seq.parse::<usize>()) {
            if v < LADDER.len() {
                by_seq.insert(seq, v);
            }
        }
    }
    (0..r.segments)
        .map(|s| {
            by_seq
                .get(&s)
                .copied()
                .with_context(|| format!("segment {s} was played but never served in full"))
        })
        .collect()
}

/// The events of a replay: `(media seconds since the open, event)`.
type Seen = Vec<(f64, HlsEvent)>;

/// Collects the stream's events until `stop`.
async fn collect(
    mut rx: kithara_stream::EventReceiver<HlsEvent>,
    mut stop: oneshot::Receiver<()>,
    opened: Instant,
    k: f64,
) -> Result<Seen> {
    let mut seen = Vec::new();
    let at = |now: Instant| (now - opened).as_secs_f64() * k;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            e = rx.recv() => match e {
                Some(Received::Event(e)) => seen.push((at(Instant::now()), e)),
                None => return Ok(seen),
                Some(Received::Lagged(n)) => bail!("{n} stream events were lost"),
                Some(_) => {}
            },
        }
    }
    for e in rx.drain() {
        match e {
            Received::Lagged(n) => bail!("{n} stream events were lost"),
            e => seen.extend(e.event().map(|e| (at(Instant::now()), e))),
        }
    }
    Ok(seen)
}

/// Puts the player's measurements, the variants played and the events together.
fn outcome(played: Played, variants: Vec<usize>, seen: &Seen, ladder: &Ladder) -> Outcome {
    let mut by_seq: BTreeMap<u64, usize> = BTreeMap::new();
    let mut fetched = Vec::new();
    let mut fetched_media = Vec::new();
    let mut media = 0.0;
    for (t, e) in seen {
        if let HlsEvent::SegmentFetched {
            variant, sequence, ..
        } = e
        {
            if by_seq.insert(*sequence, *variant).is_none() {
                let i = usize::try_from(*sequence).unwrap_or(usize::MAX);
                media += ladder.duration(i);
            }
            fetched.push((*t, *variant));
            fetched_media.push((*t, media));
        }
    }
    Outcome {
        played,
        variants,
        fetched,
        fetched_media,
    }
}
