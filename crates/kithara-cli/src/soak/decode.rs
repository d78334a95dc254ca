//! The decoding runs of the soak: a bundled file or HLS variant decoded through the real stack
//! with a fault injected, its PCM compared with a clean decode of the same media, from the start
//! and after random time seeks.

use std::{collections::HashMap, time::Duration};

use anyhow::{ensure, Context, Result};
use kithara_file::StorageKind;
use kithara_loopback::{media, LoopbackServer};
use kithara_open::{AnyDecoder, OpenOptions};
use kithara_stream::dl::Downloader;

use super::{
    plan::{self, Injected},
    run::{failed, Ctx, End, Outcome, Slot},
};

/// The decoded media: the two files and the HLS variant.
pub(crate) const DECODED: [&str; 3] = ["chirp.mp3", "chirp.flac", "hls/ts/v2.m3u8"];

/// A clean decode.
pub(crate) struct Reference {
    /// Interleaved samples of the whole track.
    samples: Vec<f32>,
    /// Its rate.
    rate: u32,
    /// Its channel count.
    channels: usize,
}

/// Clean decodes by media name.
pub(crate) type References = HashMap<&'static str, Reference>;

/// Serves `name` (a file, or an HLS variant's files) under `prefix`; returns the path to open.
fn mount(server: &LoopbackServer, prefix: &str, name: &str) -> String {
    if let Some(stem) = name.strip_suffix(".m3u8") {
        let (dir, variant) = stem
            .trim_start_matches("hls/")
            .split_once("/v")
            .unwrap_or(("ts", "0"));
        for f in plan::variant_files(dir, variant.parse().unwrap_or(0)) {
            server.route(&format!("{prefix}/{}", f.name), f.route());
        }
    } else if let Some(f) = media::get(name) {
        server.route(&format!("{prefix}/{}", f.name), f.route());
    }
    format!("{prefix}/{name}")
}

fn open_options(downloader: &Downloader, wait: Duration) -> OpenOptions {
    OpenOptions::builder()
        .downloader(downloader.clone())
        .storage(StorageKind::Memory)
        .wait_timeout(wait)
        .build()
}

/// Decodes every medium of [`DECODED`] once, with no fault: the references runs compare with.
pub(crate) async fn references(
    server: &LoopbackServer,
    downloader: &Downloader,
) -> Result<References> {
    let mut refs = References::new();
    for name in DECODED {
        let path = mount(server, "/soak/reference", name);
        let decoder = kithara_open::open_decoder(
            server.url(&path),
            open_options(downloader, Duration::from_secs(30)),
        )
        .await
        .with_context(|| format!("opening {name} for its reference decode"))?;
        let reference = tokio::task::spawn_blocking(move || -> Result<Reference> {
            let mut decoder = decoder;
            let info = decoder.info().clone();
            let mut samples = Vec::new();
            while let Some(chunk) = decoder.next_chunk()? {
                samples.extend_from_slice(&chunk.samples);
            }
            let channels = usize::from(info.channels.max(1));
            ensure!(
                samples.len() >= channels && info.sample_rate > 0,
                "no audio"
            );
            Ok(Reference {
                samples,
                rate: info.sample_rate,
                channels,
            })
        })
        .await
        .context("the decoder thread failed")?
        .with_context(|| format!("the reference decode of {name}"))?;
        refs.insert(name, reference);
    }
    Ok(refs)
}

/// Decodes `name` with a fault: from the start (all of it or part), then a few random seeks,
/// every chunk compared with the reference.
pub(crate) async fn decode_run(slot: &mut Slot, ctx: &Ctx, name: &'static str) -> Outcome {
    let fault = Injected::pick(slot.kind, &mut slot.rng);
    let mut out = Outcome::new(fault);
    let prefix = format!("/soak/{}", slot.id);
    let path = mount(&ctx.server, &prefix, name);
    // The fault goes on the file, or on one segment of the variant.
    let target = if name.ends_with(".m3u8") {
        let (uris, _) = plan::playlist_uris(name);
        let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
        slot.rng.choice(uris).map(|u| format!("{dir}/{u}"))
    } else {
        Some(name.to_owned())
    };
    if let Some(f) = target.as_deref().and_then(media::get) {
        let route = fault.apply(f.route(), f.bytes.len() as u64, &mut slot.rng);
        ctx.server.route(&format!("{prefix}/{}", f.name), route);
    }
    let Some(reference) = ctx.references.get(name) else {
        out.end = End::Wrong(format!("no reference decode of {name}"));
        return out;
    };
    let frames = reference.samples.len() / reference.channels;
    let linear = if slot.rng.bool() {
        frames
    } else {
        slot.rng.usize(0..frames)
    };
    let seeks: Vec<usize> = (0..slot.rng.usize(0..4))
        .map(|_| slot.rng.usize(0..frames.saturating_sub(1).max(1)))
        .collect();
    let decoder = match kithara_open::open_decoder(
        ctx.server.url(&path),
        open_options(&ctx.downloader, ctx.wait),
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            out.end = failed(e.class(), &e);
            return out;
        }
    };
    let references = ctx.references.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let Some(reference) = references.get(name) else {
            return out;
        };
        let mut decoder = decoder;
        if let Err(end) = compare(&mut decoder, reference, name, linear, &seeks, &mut out) {
            out.end = end;
        }
        out
    })
    .await;
    joined.unwrap_or_else(|e| {
        let mut out = Outcome::new(fault);
        out.end = End::Wrong(format!("the decoder thread failed: {e}"));
        out
    })
}

/// The linear decode of `linear` frames, then the seeks, compared with `reference`.
fn compare(
    decoder: &mut AnyDecoder,
    reference: &Reference,
    name: &str,
    linear: usize,
    seeks: &[usize],
    out: &mut Outcome,
) -> std::result::Result<(), End> {
    let ch = reference.channels;
    let mut frame = 0usize;
    while frame < linear {
        let Some(chunk) = decoder.next_chunk().map_err(|e| failed(e.class(), &e))? else {
            break;
        };
        same(reference, name, frame, &chunk.samples)?;
        frame += chunk.samples.len() / ch;
        out.frames += (chunk.samples.len() / ch) as u64;
    }
    if linear == reference.samples.len() / ch {
        if decoder
            .next_chunk()
            .map_err(|e| failed(e.class(), &e))?
            .is_some()
        {
            return Err(End::Wrong(format!(
                "{name}: audio after the reference's end"
            )));
        }
        if frame != linear {
            return Err(End::Wrong(format!(
                "{name}: {frame} frames decoded, the reference has {linear}"
            )));
        }
    }
    for &at in seeks {
        out.seeks += 1;
        // The media time of `at`, rounded up to the nanosecond so that it rounds back to it.
        let nanos = (at as u64)
            .saturating_mul(1_000_000_000)
            .div_ceil(u64::from(reference.rate));
        decoder
            .seek(Duration::from_nanos(nanos))
            .map_err(|e| failed(e.class(), &e))?;
        let chunk = decoder
            .next_chunk()
            .map_err(|e| failed(e.class(), &e))?
            .ok_or_else(|| End::Wrong(format!("{name}: no audio after seeking to frame {at}")))?;
        same(reference, name, at, &chunk.samples)?;
        out.frames += (chunk.samples.len() / ch) as u64;
    }
    Ok(())
}

/// Fails unless `samples` equal the reference's from `frame` on.
fn same(
    reference: &Reference,
    name: &str,
    frame: usize,
    samples: &[f32],
) -> std::result::Result<(), End> {
    let start = frame.saturating_mul(reference.channels);
    let want = start
        .checked_add(samples.len())
        .and_then(|end| reference.samples.get(start..end));
    if want != Some(samples) {
        return Err(End::Wrong(format!(
            "{name}: the PCM at frame {frame} differs from the clean decode"
        )));
    }
    Ok(())
}
