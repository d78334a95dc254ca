//! Case 3, seek latency: on a route that answers every request 20 ms late (one round trip of a
//! distant server) and paces its body, seek to random offsets the download has not reached and
//! time until the first read returns bytes; kithara vs stream-download (its default settings).

use std::{
    io::{Read, Seek, SeekFrom},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use kithara_file::StorageKind;
use kithara_loopback::{payload, Route};
use stream_download::storage::temp::TempStorageProvider;
use tokio::runtime::Runtime;

use super::{
    fixture::Fixture,
    report::{Better, CaseResult, Stat},
    Plan,
};

/// Added latency before every response's headers.
const RTT: Duration = Duration::from_millis(20);

/// Body pace, so that a seek far ahead really lands on bytes not downloaded yet.
const RATE: u64 = 16 << 20;

/// Bytes asked for by the first read after a seek.
const FIRST_READ: usize = 4096;

/// Random seek targets in distinct slices of the back three quarters of the body, shuffled.
fn targets(len: u64, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = len / 4;
    let slice = (len - start) / n as u64;
    let mut v: Vec<u64> = (0..n as u64)
        .map(|i| start + i * slice + rng.u64(0..slice.saturating_sub(FIRST_READ as u64).max(1)))
        .collect();
    rng.shuffle(&mut v);
    v
}

/// A read whose bytes are not the body's: the seek target, and where the bytes are in the body.
type Misread = (u64, Option<usize>);

/// Seeks `r` to every target and times the first read. Returns ms per seek and, for each
/// read whose bytes are not the body's, where they were found in the body (`None`: nowhere).
fn seeks(
    r: &mut (impl Read + Seek),
    body: &Bytes,
    targets: &[u64],
    who: &str,
) -> Result<(Vec<f64>, Vec<Misread>)> {
    let mut buf = vec![0u8; FIRST_READ];
    let mut out = Vec::with_capacity(targets.len());
    let mut wrong = Vec::new();
    for &t in targets {
        let started = Instant::now();
        r.seek(SeekFrom::Start(t))
            .with_context(|| format!("{who}: seek to {t}"))?;
        let n = r
            .read(&mut buf)
            .with_context(|| format!("{who}: read at {t}"))?;
        let took = started.elapsed();
        if n == 0 {
            bail!("{who}: the read at {t} returned no bytes");
        }
        let at = usize::try_from(t).context("offset")?;
        if body.get(at..at + n) != Some(&buf[..n]) {
            let probe = &buf[..n.min(64)];
            wrong.push((t, body.windows(probe.len()).position(|w| w == probe)));
        }
        out.push(took.as_secs_f64() * 1e3);
    }
    Ok((out, wrong))
}

/// The floor: a bare ranged GET from `t` on the raw client, timed to its first body chunk (the
/// response is then dropped, so every request needs a new connection, as a seek does).
fn raw_first_chunks(fx: &Fixture<'_>, url: &url::Url, targets: &[u64]) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(targets.len());
    for &t in targets {
        let (client, url) = (fx.client.clone(), url.clone());
        let took = fx.rt.block_on(async move {
            let started = Instant::now();
            let mut resp = client
                .get(url)
                .header(reqwest::header::RANGE, format!("bytes={t}-"))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .context("raw ranged GET")?;
            match resp.chunk().await.context("raw ranged GET body")? {
                Some(c) if !c.is_empty() => Ok(started.elapsed()),
                _ => bail!("raw ranged GET at {t}: no body"),
            }
        })?;
        out.push(took.as_secs_f64() * 1e3);
    }
    Ok(out)
}

fn median(v: &[f64]) -> Result<f64> {
    Stat::of(v).map(|s| s.median).context("no seek measured")
}

/// Runs the case; rows `seek.*`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let mib: u64 = if plan.quick { 64 } else { 256 };
    let per_round = if plan.quick { 6 } else { 20 };
    let len = mib << 20;
    let fx = Fixture::new(rt, 8)?;
    let body = payload(usize::try_from(len).context("body size")?, 0x5eec);
    fx.server.route(
        "/seek.bin",
        Route::new(body.clone()).latency(RTT).throttle(RATE),
    );
    let url = fx.server.url("/seek.bin");
    let (mut kithara, mut peer, mut raw) = (vec![], vec![], vec![]);
    let (mut peer_seeks, mut peer_wrong) = (0usize, Vec::new());
    for round in 0..plan.rounds {
        let t = targets(len, per_round, 0x5eec + round as u64);
        let mut s = fx.open(&url, StorageKind::TempFile)?;
        let (ms, wrong) = seeks(&mut s, &body, &t, "kithara")?;
        if let Some((at, found)) = wrong.first() {
            bail!("kithara: the bytes read at {at} are not the body's (found at {found:?})");
        }
        kithara.push(median(&ms)?);
        drop(s);
        let mut r = fx.sd_open(&url, TempStorageProvider::new())?;
        let (ms, wrong) = seeks(&mut r, &body, &t, "stream-download")?;
        peer.push(median(&ms)?);
        peer_seeks += t.len();
        peer_wrong.extend(wrong);
        raw.push(median(&raw_first_chunks(&fx, &url, &t)?)?);
    }
    let raw = Stat::of(&raw).context("no raw GET measured")?;
    let kithara = Stat::of(&kithara).context("no seek measured")?;
    let peer = Stat::of(&peer).context("no seek measured")?;
    let rtt_ms = RTT.as_secs_f64() * 1e3;
    let peer_note = match peer_wrong.first() {
        None => String::from("every byte read checked on both sides"),
        Some((at, found)) => format!(
            "every byte read checked; stream-download returned wrong bytes at {} of {peer_seeks} \
             seeks (e.g. at {at}: the body's bytes from {}), kithara at none",
            peer_wrong.len(),
            found.map_or_else(|| String::from("nowhere"), |f| f.to_string())
        ),
    };
    Ok(vec![
        CaseResult::ratio(
            "seek.vs_stream_download",
            "ms",
            Better::Lower,
            kithara,
            "stream-download temp file",
            peer,
            1.0,
        )
        .note(format!(
            "{mib} MiB body paced at {} MiB/s, every response {rtt_ms:.0} ms late; {per_round} \
             seeks per round to random unfetched offsets, seek + first {FIRST_READ}-byte read, \
             median per round; temp-file storage both sides, stream-download with its \
             defaults; {peer_note}",
            RATE >> 20
        )),
        CaseResult::ratio(
            "seek.vs_raw_get",
            "ms",
            Better::Lower,
            kithara,
            "raw ranged GET, first chunk",
            raw,
            1.1,
        )
        .note(
            "the floor on this harness: a bare ranged GET at the same targets on the raw \
             reqwest client, timed to its first body chunk on a new connection; the server's \
             20 ms sleep and its own work are in both",
        ),
        CaseResult::alone(
            "seek.vs_rtt",
            "ms",
            Better::Lower,
            kithara,
            Some(rtt_ms + 2.0),
        ),
    ])
}
