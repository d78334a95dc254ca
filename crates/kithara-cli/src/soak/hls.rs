//! The HLS runs of the soak: a VOD variant read in runs from random times, and a live window slid
//! by the soak until it ends. Every run's bytes are checked against the segments they are made of.

use std::{
    io::{Read, Seek, SeekFrom},
    sync::Arc,
    time::Duration,
};

use kithara_hls::{Hls, HlsConfig};
use kithara_storage::StorageKind;
use kithara_stream::{Stream, StreamOptions};

use super::{
    plan::{self, Injected, Kind},
    run::{failed, io_failed, Ctx, End, Outcome, Slot},
    verify::{Order, Pieces},
};

/// Largest single read.
const READ: usize = 32 * 1024;
/// Length of the bundled ladder, for random time seeks.
const LADDER_SECS: u64 = 30;

/// Installs the routes of variant `dir`/`variant` under the slot, one of them (a segment, the
/// playlist or the key) with `fault`. Returns the playlist's path.
fn install(slot: &mut Slot, ctx: &Ctx, dir: &str, variant: u8, fault: Injected) -> String {
    let files = plan::variant_files(dir, variant);
    let segments: Vec<usize> = (0..files.len())
        .filter(|&i| {
            files.get(i).is_some_and(|f| {
                f.name.ends_with(".ts") || f.name.ends_with(".m4s") || f.name.ends_with(".aac")
            })
        })
        .collect();
    let faulted = match slot.rng.u32(0..100) {
        0..15 => files.iter().position(|f| f.name.ends_with(".m3u8")),
        15..30 => files.iter().position(|f| f.name.ends_with(".key")),
        _ => None,
    }
    .or_else(|| slot.rng.choice(segments.iter().copied()));
    for (i, f) in files.iter().enumerate() {
        let mut route = f.route();
        if Some(i) == faulted {
            route = fault.apply(route, f.bytes.len() as u64, &mut slot.rng);
        }
        ctx.server.route(&slot.path(f.name), route);
    }
    slot.path(&format!("hls/{dir}/v{variant}.m3u8"))
}

fn options(ctx: &Ctx, cached: bool) -> StreamOptions<kithara_hls::HlsEvent> {
    let storage = if cached {
        StorageKind::Cache(ctx.store.clone())
    } else {
        StorageKind::Memory
    };
    StreamOptions::builder()
        .storage(storage)
        .wait_timeout(ctx.wait)
        .build()
}

/// A VOD variant: a run from the start, then runs from random times, each of a random length,
/// maybe dropped midway.
pub(crate) async fn vod_run(slot: &mut Slot, ctx: &Ctx) -> Outcome {
    let Kind::Hls {
        dir,
        variant,
        cached,
    } = slot.kind
    else {
        return Outcome::new(Injected::None);
    };
    let fault = Injected::pick(slot.kind, &mut slot.rng);
    let mut out = Outcome::new(fault);
    let path = install(slot, ctx, dir, variant, fault);
    let pieces = plan::pieces(dir, variant);
    let total = pieces.total_len();
    let reread = slot.rng.u64(..);
    let runs: Vec<(Option<Duration>, usize)> = (0..slot.rng.usize(1..4))
        .map(|i| {
            let at = (i > 0).then(|| Duration::from_millis(slot.rng.u64(0..LADDER_SECS * 1000)));
            let budget = if slot.rng.bool() {
                usize::MAX
            } else {
                slot.rng.usize(1..total.max(2))
            };
            (at, budget)
        })
        .collect();
    let config = HlsConfig::builder()
        .url(ctx.server.url(&path))
        .downloader(ctx.downloader.clone())
        .options(options(ctx, cached))
        .build();
    let stream = match Stream::<Hls>::new(config).await {
        Ok(s) => s,
        Err(e) => {
            out.end = failed(e.class(), &e);
            return out;
        }
    };
    blocking(out.fault, move || {
        let mut stream = stream;
        for (at, budget) in runs {
            let order = match at {
                None => Order::FromStart,
                Some(t) => {
                    out.seeks += 1;
                    if let Err(e) = stream.seek_time(t) {
                        out.end = failed(e.class(), &e);
                        return out;
                    }
                    Order::AnyFirst
                }
            };
            let start = stream.position();
            let (bytes, end) = read_run(&mut stream, budget);
            if let Err(e) = pieces.check(&bytes, order) {
                out.end = End::Wrong(format!("{e:#}"));
                return out;
            }
            out.bytes += bytes.len() as u64;
            if let Some(end) = end {
                out.end = end;
                return out;
            }
            if let Err(end) = reread_at(&mut stream, start, &bytes, reread, &mut out) {
                out.end = end;
                return out;
            }
        }
        out
    })
    .await
}

/// Reads up to `budget` bytes (or to the end). Returns them, and how the run ended if it did not
/// simply reach its budget or the end (an error).
fn read_run(stream: &mut Stream<Hls>, budget: usize) -> (Vec<u8>, Option<End>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; READ];
    while got.len() < budget {
        let want = (budget - got.len()).min(READ);
        match stream.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(io_failed(&e))),
        }
    }
    (got, None)
}

/// Seeks back by bytes into what a run read (from `start`) at a point drawn from `draw`, and
/// reads again: the bytes must be the same.
fn reread_at(
    stream: &mut Stream<Hls>,
    start: u64,
    bytes: &[u8],
    draw: u64,
    out: &mut Outcome,
) -> Result<(), End> {
    if bytes.is_empty() {
        return Ok(());
    }
    let len = bytes.len() as u64;
    let at = draw % len;
    out.seeks += 1;
    let pos = start
        .checked_add(at)
        .ok_or_else(|| End::Wrong(String::from("a position past u64")))?;
    stream
        .seek(SeekFrom::Start(pos))
        .map_err(|e| io_failed(&e))?;
    let want = usize::try_from(len - at).unwrap_or(usize::MAX).min(READ);
    let (again, end) = read_run(stream, want);
    if let Some(end) = end {
        return Err(end);
    }
    let offset = usize::try_from(at).unwrap_or(usize::MAX);
    if bytes.get(offset..offset.saturating_add(again.len())) != Some(&again[..]) {
        return Err(End::Wrong(format!(
            "{} bytes read again at byte {pos} (after a seek back into a run from {start}) differ from the first read",
            again.len()
        )));
    }
    out.bytes += again.len() as u64;
    Ok(())
}

/// Runs `f` on a blocking thread; a thread that fails is a failure of the run.
async fn blocking(fault: Injected, f: impl FnOnce() -> Outcome + Send + 'static) -> Outcome {
    match tokio::task::spawn_blocking(f).await {
        Ok(out) => out,
        Err(e) => {
            let mut out = Outcome::new(fault);
            out.end = End::Wrong(format!("the reader thread failed: {e}"));
            out
        }
    }
}

/// A live playlist over TS variant 0: the window `first..=last`, `ENDLIST` when `end`.
fn live_playlist(uris: &[String], first: usize, last: usize, end: bool) -> String {
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for uri in uris.get(first..=last).unwrap_or_default() {
        p.push_str(&format!("#EXTINF:1.0,\nhls/ts/{uri}\n"));
    }
    if end {
        p.push_str("#EXT-X-ENDLIST\n");
    }
    p
}

/// A live window of three segments, slid by one every second until it ends on a random
/// segment; read to its end (or dropped midway). The bytes must be whole segments in increasing
/// order (a segment that left the window unfetched is skipped), ending with the last one.
pub(crate) async fn live_run(slot: &mut Slot, ctx: &Ctx) -> Outcome {
    let fault = Injected::pick(slot.kind, &mut slot.rng);
    let mut out = Outcome::new(fault);
    install(slot, ctx, "ts", 0, fault);
    let (uris, _) = plan::playlist_uris("hls/ts/v0.m3u8");
    let last = slot
        .rng
        .usize(4..uris.len().max(5))
        .min(uris.len().saturating_sub(1));
    let path = slot.path("live.m3u8");
    ctx.server.route(
        &path,
        kithara_loopback::Route::new(live_playlist(&uris, 0, 2, false)),
    );
    // The live edge: a clock, not a synchronisation (the reader may fall behind and skip).
    let (server, live) = (ctx.server.clone(), path.clone());
    let slider = tokio::spawn(async move {
        for end in 3..=last {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let body = live_playlist(&uris, end - 2, end, end == last);
            server.route(&live, kithara_loopback::Route::new(body));
        }
    });
    let cancel_at = (slot.rng.u32(0..5) == 0).then(|| slot.rng.usize(1..256 << 10));
    let config = HlsConfig::builder()
        .url(ctx.server.url(&path))
        .downloader(ctx.downloader.clone())
        .options(options(ctx, false))
        .build();
    let stream = match Stream::<Hls>::new(config).await {
        Ok(s) => s,
        Err(e) => {
            slider.abort();
            out.end = failed(e.class(), &e);
            return out;
        }
    };
    let pieces = Arc::new(plan::pieces("ts", 0));
    let out = blocking(fault, move || {
        let mut stream = stream;
        let (bytes, end) = read_run(&mut stream, cancel_at.unwrap_or(usize::MAX));
        out.bytes = bytes.len() as u64;
        out.end = check_live(&pieces, &bytes, last, end, cancel_at.is_some());
        out
    })
    .await;
    slider.abort();
    out
}

fn check_live(pieces: &Pieces, bytes: &[u8], last: usize, end: Option<End>, cut: bool) -> End {
    if let Err(e) = pieces.check(bytes, Order::Increasing) {
        return End::Wrong(format!("live: {e:#}"));
    }
    if let Some(end) = end {
        return end;
    }
    if cut
        && pieces
            .segments
            .get(last)
            .is_none_or(|s| !bytes.ends_with(s))
    {
        return End::Cancelled;
    }
    match pieces.segments.get(last) {
        Some(s) if bytes.ends_with(s) => End::Done,
        _ => End::Wrong(format!(
            "live: the stream ended ({} bytes) without segment {last}, the last of the window",
            bytes.len()
        )),
    }
}
