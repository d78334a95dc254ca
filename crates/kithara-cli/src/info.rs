//! `kithara info`: what a URL or file holds, as text or JSON.
//!
//! The input is opened and probed like `decode` does (no request for the tail), with the download
//! pausing 256 KiB ahead of what probing reads; then the decoder's
//! [`TrackInfo`](kithara_decode::TrackInfo) and the resource's length are reported. The bitrate is the average over the whole resource, `bytes × 8 / duration` (tags and
//! container overhead included), when both are known.

use std::io::{self, Write};

use anyhow::{Context, Result};
use kithara_storage::AssetStore;
use serde::Serialize;

use kithara_file::FileSrc;

use crate::{
    args::InfoArgs,
    renditions,
    source::{self, OpenOptions},
};

/// Read-ahead of the download while probing.
const PROBE_AHEAD: u64 = 256 * 1024;
/// How long `info` of a radio waits for the station's first title.
const TITLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The report of `kithara info`. The field names are the stable JSON keys (see the README).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct InfoReport {
    /// The redacted URL or the path.
    pub(crate) source: String,
    /// The codec (`MP3`, `AAC-LC`, `FLAC`, `Vorbis`, `PCM`, …).
    pub(crate) codec: String,
    /// The container (`MPEG audio`, `ADTS`, `MP4`, `FLAC`, `WAV`, `Ogg`, …), when known.
    pub(crate) container: Option<String>,
    /// Sample rate in Hz.
    pub(crate) sample_rate: u32,
    /// Channel count.
    pub(crate) channels: u16,
    /// Total frames, when the container declares them.
    pub(crate) frames: Option<u64>,
    /// Duration in seconds, when the container declares it.
    pub(crate) duration_secs: Option<f64>,
    /// Length of the resource in bytes, when known.
    pub(crate) size_bytes: Option<u64>,
    /// Average bitrate in bits per second (`size_bytes × 8 / duration_secs`), when both are known;
    /// for HLS, the bandwidth of the variant played first.
    pub(crate) bitrate_bps: Option<u64>,
    /// HLS only: the variants, in ladder order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) variants: Option<Vec<VariantReport>>,
    /// HLS only: the audio renditions (`EXT-X-MEDIA TYPE=AUDIO`), in playlist order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) renditions: Option<Vec<RenditionReport>>,
    /// HLS only: whether the stream is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) live: Option<bool>,
    /// Internet radio only: what the station's headers say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) station: Option<StationReport>,
    /// Internet radio only: the title playing (the first one the station sends within a few
    /// seconds; `null` if none came).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<Option<String>>,
    /// What the file's tags say (those at its head: ID3v2, Vorbis comments, FLAC, MP4 `ilst`;
    /// those at its end, APE and ID3v1, when its last bytes are present: a local or cached file);
    /// absent when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tags: Option<TagsReport>,
}

/// An internet radio's headers in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StationReport {
    /// `icy-name`.
    pub(crate) name: Option<String>,
    /// `icy-genre`.
    pub(crate) genre: Option<String>,
    /// `icy-br`, kbit/s.
    pub(crate) bitrate_kbps: Option<u32>,
    /// `icy-url`.
    pub(crate) url: Option<String>,
    /// `icy-description`.
    pub(crate) description: Option<String>,
}

/// A file's tags in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TagsReport {
    /// The title.
    pub(crate) title: Option<String>,
    /// The artist.
    pub(crate) artist: Option<String>,
    /// The album.
    pub(crate) album: Option<String>,
    /// The track number.
    pub(crate) track_number: Option<u64>,
    /// Whether the file carries cover art.
    pub(crate) cover_art: bool,
}

impl TagsReport {
    fn of(t: &kithara_decode::Tags) -> Option<Self> {
        (!t.is_empty()).then(|| Self {
            title: t.title.clone(),
            artist: t.artist.clone(),
            album: t.album.clone(),
            track_number: t.track_number,
            cover_art: t.has_cover_art,
        })
    }
}

/// One HLS variant in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VariantReport {
    /// Index (what `--variant` takes).
    pub(crate) index: usize,
    /// `BANDWIDTH` in bits per second.
    pub(crate) bandwidth_bps: u64,
    /// `CODECS` as written.
    pub(crate) codecs: Option<String>,
}

/// One HLS audio rendition in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RenditionReport {
    /// `GROUP-ID`.
    pub(crate) group: String,
    /// `NAME`.
    pub(crate) name: String,
    /// `LANGUAGE` (what `--audio-lang` matches), when given.
    pub(crate) language: Option<String>,
    /// `DEFAULT=YES`: played when no language is asked for.
    pub(crate) default: bool,
}

pub(crate) async fn run(args: InfoArgs, cache: Option<AssetStore>) -> Result<()> {
    let mut options = OpenOptions::new(args.timeout, cache)?;
    // Probing reads the first bytes only: do not download the rest meanwhile.
    options.buffer_ahead = Some(PROBE_AHEAD);
    let url = match &args.source {
        FileSrc::Remote(url) => Some(url.clone()),
        _ => None,
    };
    let input = source::open_any(args.source, &options).await?;
    let renditions = match (&input.hls, url) {
        (Some(_), Some(url)) => match renditions::audio_renditions(url, &options).await {
            Ok(list) => Some(list.into_iter().map(rendition_report).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the audio renditions");
                None
            }
        },
        _ => None,
    };
    let (station, title) = radio_facts(&input).await;
    let info = input.pcm.info();
    let hls = input.hls.clone();
    let duration_secs = info
        .duration
        .or(hls.as_ref().and_then(|h| h.duration))
        .map(|d| d.as_secs_f64());
    // An HLS stream's byte length is that of its segments, not a file's.
    let size_bytes = if hls.is_some() {
        None
    } else {
        input.pcm.with_stream(|s| s.len())
    };
    let first_bandwidth = hls
        .as_ref()
        .and_then(|h| h.variants.first().map(|v| v.bandwidth))
        .filter(|&b| b > 0);
    let report = InfoReport {
        source: input.label.clone(),
        codec: info
            .codec
            .map_or_else(|| info.codec_name.clone(), |c| c.to_string()),
        container: info.container.map(|c| c.to_string()),
        sample_rate: info.sample_rate,
        channels: info.channels,
        frames: info.frames,
        duration_secs,
        size_bytes,
        bitrate_bps: bitrate(size_bytes, duration_secs).or(first_bandwidth),
        live: hls.as_ref().map(|h| h.live),
        station,
        title,
        tags: TagsReport::of(&info.tags),
        renditions,
        variants: hls.map(|h| {
            h.variants
                .into_iter()
                .map(|v| VariantReport {
                    index: v.index,
                    bandwidth_bps: v.bandwidth,
                    codecs: v.codecs,
                })
                .collect()
        }),
    };
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).context("writing the JSON report")?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(())
}

/// A radio's station headers and its first title (waited for up to [`TITLE_WAIT`]; the ring
/// bounds what is downloaded meanwhile); nothing for other streams.
async fn radio_facts(input: &source::Input) -> (Option<StationReport>, Option<Option<String>>) {
    use kithara_file::FileEvent;
    use kithara_open::AnyEvent;
    use kithara_stream::{Received, Source};
    // Subscribed before the marks are looked at, so a title arriving in between is not missed.
    let (station, known, mut events) = input.pcm.with_stream(|s| {
        let file = s.source().as_file().filter(|f| f.is_endless());
        let station = file.map(|f| f.station().unwrap_or_default());
        let known = file.and_then(|f| {
            f.metadata_marks(0)
                .into_iter()
                .find_map(|m| m.now_playing.title)
        });
        (station, known, s.events())
    });
    let Some(st) = station else {
        return (None, None);
    };
    let title = match known {
        Some(t) => Some(t),
        None => tokio::time::timeout(TITLE_WAIT, async {
            loop {
                match events.recv().await {
                    Some(Received::Event(AnyEvent::File(FileEvent::NowPlaying {
                        now_playing,
                        ..
                    }))) if now_playing.title.is_some() => return now_playing.title,
                    Some(_) => {}
                    None => return None,
                }
            }
        })
        .await
        .ok()
        .flatten(),
    };
    let report = StationReport {
        name: st.name,
        genre: st.genre,
        bitrate_kbps: st.bitrate_kbps,
        url: st.url,
        description: st.description,
    };
    (Some(report), Some(title))
}

fn rendition_report(r: kithara_hls::playlist::AudioRendition) -> RenditionReport {
    RenditionReport {
        group: r.group_id,
        name: r.name,
        language: r.language,
        default: r.default,
    }
}

/// Average bits per second of `bytes` over `secs`.
fn bitrate(bytes: Option<u64>, secs: Option<f64>) -> Option<u64> {
    let (bytes, secs) = (bytes?, secs?);
    (secs > 0.0).then(|| (bytes as f64 * 8.0 / secs).round() as u64)
}

fn write_text(out: &mut impl Write, r: &InfoReport) -> io::Result<()> {
    let unknown = || String::from("unknown");
    writeln!(out, "source       {}", r.source)?;
    writeln!(out, "codec        {}", r.codec)?;
    writeln!(
        out,
        "container    {}",
        r.container.clone().unwrap_or_else(unknown)
    )?;
    writeln!(out, "sample rate  {} Hz", r.sample_rate)?;
    writeln!(out, "channels     {}", r.channels)?;
    let duration = match (r.duration_secs, r.frames) {
        (Some(d), Some(f)) => format!("{d:.3} s ({f} frames)"),
        (Some(d), None) => format!("{d:.3} s"),
        _ => unknown(),
    };
    writeln!(out, "duration     {duration}")?;
    writeln!(
        out,
        "size         {}",
        r.size_bytes.map_or_else(unknown, |b| format!("{b} bytes"))
    )?;
    writeln!(
        out,
        "bitrate      {}",
        r.bitrate_bps
            .map_or_else(unknown, |b| format!("{:.1} kbit/s", b as f64 / 1000.0))
    )?;
    if let Some(st) = &r.station {
        let field = |v: &Option<String>| v.clone().unwrap_or_else(unknown);
        writeln!(out, "station      {}", field(&st.name))?;
        writeln!(out, "genre        {}", field(&st.genre))?;
        if let Some(br) = st.bitrate_kbps {
            writeln!(out, "station rate {br} kbit/s")?;
        }
        writeln!(out, "homepage     {}", field(&st.url))?;
        writeln!(out, "description  {}", field(&st.description))?;
    }
    if let Some(title) = &r.title {
        writeln!(
            out,
            "now playing  {}",
            title.clone().unwrap_or_else(unknown)
        )?;
    }
    if let Some(t) = &r.tags {
        let fields = [
            ("title", t.title.clone()),
            ("artist", t.artist.clone()),
            ("album", t.album.clone()),
            ("track", t.track_number.map(|n| n.to_string())),
            ("cover art", t.cover_art.then(|| "yes".to_owned())),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                writeln!(out, "{name:<12} {v}")?;
            }
        }
    }
    if let Some(live) = r.live {
        writeln!(out, "live         {}", if live { "yes" } else { "no" })?;
    }
    for a in r.renditions.iter().flatten() {
        writeln!(
            out,
            "audio        {:<16} {:<6} group {}{}",
            a.name,
            a.language.as_deref().unwrap_or("-"),
            a.group,
            if a.default { ", default" } else { "" }
        )?;
    }
    for v in r.variants.iter().flatten() {
        writeln!(
            out,
            "variant {:<4} {:.1} kbit/s {}",
            v.index,
            v.bandwidth_bps as f64 / 1000.0,
            v.codecs.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrate_from_length_and_duration() {
        assert_eq!(bitrate(Some(16_000), Some(1.0)), Some(128_000));
        assert_eq!(bitrate(Some(1000), Some(0.0)), None);
        assert_eq!(bitrate(None, Some(1.0)), None);
        assert_eq!(bitrate(Some(1000), None), None);
    }
}
