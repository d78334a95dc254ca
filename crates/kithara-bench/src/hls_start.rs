//! Case 8, HLS start: time from `Stream::<Hls>::new` to the first decoded PCM sample of the
//! bundled ladder (TS and fMP4 masters), with a fixed latency added to every response, counted
//! in round trips of that latency.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kithara_decode::{Decoder, DecoderConfig};
use kithara_hls::{Hls, HlsConfig};
use kithara_loopback::media;
use kithara_stream::Stream;
use tokio::runtime::Runtime;

use super::{
    fixture::Fixture,
    report::{Better, CaseResult, Stat},
    Plan,
};

/// Latency added before every response's headers: one round trip of a distant server.
const RTT: Duration = Duration::from_millis(50);

/// The goal of the performance issue: first PCM within this many round trips.
const GOAL_RTT: f64 = 4.0;

/// The masters measured: row name and bundled path.
const MASTERS: &[(&str, &str)] = &[("ts", "hls/master.m3u8"), ("fmp4", "hls/master-fmp4.m3u8")];

/// Opens `url`, decodes until the first chunk with samples; returns the time it took and when.
fn first_pcm(fx: &Fixture<'_>, url: &url::Url) -> Result<(Duration, Instant)> {
    let config = HlsConfig::builder()
        .url(url.clone())
        .downloader(fx.downloader.clone())
        .options(
            kithara_stream::StreamOptions::builder()
                .wait_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    let started = Instant::now();
    let stream = fx
        .rt
        .block_on(Stream::<Hls>::new(config))
        .context("could not open the HLS stream")?;
    let mut decoder = Decoder::new(stream, DecoderConfig::default()).context("decoder")?;
    loop {
        match decoder.next_chunk().context("decode")? {
            Some(chunk) if !chunk.samples.is_empty() => {
                let now = Instant::now();
                return Ok((now - started, now));
            }
            Some(_) => {}
            None => bail!("the stream ended before any PCM"),
        }
    }
}

/// The paths of the requests that arrived by `until`, shortened to what follows `/media/hls/`.
fn requests(fx: &Fixture<'_>, until: Instant) -> Vec<String> {
    fx.server
        .requests()
        .into_iter()
        .filter(|r| r.at <= until)
        .map(|r| {
            r.path
                .trim_start_matches("/media/hls/")
                .trim_start_matches('/')
                .to_string()
        })
        .collect()
}

/// Runs the case; rows `hls-start.*`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let fx = Fixture::new(rt, 8)?;
    for f in media::FILES.iter().filter(|f| f.name.starts_with("hls/")) {
        fx.server
            .route(&format!("/media/{}", f.name), f.route().latency(RTT));
    }
    let rtt_ms = RTT.as_secs_f64() * 1e3;
    let mut rows = Vec::new();
    for (kind, master) in MASTERS {
        let url = fx.server.url(&format!("/media/{master}"));
        let (mut rtts, mut ms) = (Vec::new(), Vec::new());
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..plan.rounds {
            fx.server.clear_log();
            let (took, at) = first_pcm(&fx, &url).context(*master)?;
            seen = requests(&fx, at);
            ms.push(took.as_secs_f64() * 1e3);
            rtts.push(took.as_secs_f64() / RTT.as_secs_f64());
        }
        let stat = Stat::of(&rtts).context("no start measured")?;
        let ms = Stat::of(&ms).context("no start measured")?;
        rows.push(
            CaseResult::alone(
                &format!("hls-start.{kind}"),
                "RTT",
                Better::Lower,
                stat,
                Some(GOAL_RTT),
            )
            .note(format!(
                "{master}: Stream::<Hls>::new to the first decoded PCM sample (kithara-decode), \
                 every response {rtt_ms:.0} ms late; median {:.1} ms; {} requests before it in the \
                 last round: {}",
                ms.median,
                seen.len(),
                seen.join(", ")
            )),
        );
    }
    Ok(rows)
}
