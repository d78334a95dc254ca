//! Case 2, decode overhead: decoding an MP3 and a FLAC through `Stream<File>` over loopback vs
//! through `Stream<File>` of the same bytes in a local file, with the same decoder: the ratio is
//! what the network path costs a decoder.

use std::{io::Write, path::Path, time::Instant};

use anyhow::{bail, Context, Result};
use kithara_decode::{Decoder, DecoderConfig};
use kithara_file::{File, FileConfig, FileSrc};
use kithara_loopback::{media, Route};
use kithara_stream::Stream;
use tokio::runtime::Runtime;

use super::{
    fixture::{mib_s, Fixture},
    report::{Better, CaseResult, Stat},
    Plan,
};

/// About `size` bytes of MP3 (1 MiB: ~2 min): the bundled fixture's audio frames repeated after its ID3v2 tag.
fn long_mp3(size: usize) -> Result<Vec<u8>> {
    let src = media::get("chirp.mp3")
        .context("the bundled chirp.mp3 is missing")?
        .bytes;
    if src.len() < 10 || &src[..3] != b"ID3" {
        bail!("the bundled chirp.mp3 does not start with an ID3v2 tag");
    }
    let id3 = 10
        + (usize::from(src[6]) << 21
            | usize::from(src[7]) << 14
            | usize::from(src[8]) << 7
            | usize::from(src[9]));
    // MPEG-2 layer III at 64 kbit/s, 22.05 kHz: 208 or 209 bytes a frame (padding bit).
    let frame_len = |at: usize| 72 * 64_000 / 22_050 + usize::from((src[at + 2] >> 1) & 1);
    if id3 + 4 > src.len() {
        bail!("the bundled chirp.mp3 has no audio frame");
    }
    // Skip the Info frame, then take every whole frame.
    let mut at = id3 + frame_len(id3);
    let start = at;
    while at + 4 <= src.len() && at + frame_len(at) <= src.len() {
        at += frame_len(at);
    }
    if at <= start {
        bail!("the bundled chirp.mp3 has no audio frame after its Info frame");
    }
    let mut out = src[..id3].to_vec();
    while out.len() < size {
        out.extend_from_slice(&src[start..at]);
    }
    Ok(out)
}

/// Decodes `src` to its end; returns the samples decoded.
fn decode(fx: &Fixture<'_>, src: FileSrc) -> Result<usize> {
    let config = FileConfig::from_src(src, &fx.downloader).build();
    let stream = fx
        .rt
        .block_on(Stream::<File>::new(config))
        .context("could not open the stream")?;
    let mut decoder = Decoder::new(stream, DecoderConfig::default()).context("decoder")?;
    let mut n = 0;
    while let Some(chunk) = decoder.next_chunk().context("decode")? {
        n += chunk.samples.len();
    }
    Ok(n)
}

/// Decodes `reps` times; returns input MiB/s and the samples of one decode.
fn timed(fx: &Fixture<'_>, src: &FileSrc, bytes: u64, reps: u32) -> Result<(f64, usize)> {
    let started = Instant::now();
    let mut samples = 0;
    for _ in 0..reps {
        samples = decode(fx, src.clone())?;
    }
    Ok((mib_s(bytes * u64::from(reps), started.elapsed()), samples))
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path)
        .with_context(|| format!("could not create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
}

/// Runs the case; rows `decode.*`.
pub(crate) fn run(plan: Plan, rt: &Runtime) -> Result<Vec<CaseResult>> {
    let fx = Fixture::new(rt, 8)?;
    let dir = tempfile::tempdir().context("could not create a temporary directory")?;
    let mp3 = long_mp3(if plan.quick { 256 << 10 } else { 1 << 20 })?;
    let flac = media::get("chirp.flac")
        .context("the bundled chirp.flac is missing")?
        .bytes
        .to_vec();
    let inputs = [
        (
            "mp3",
            "long.mp3",
            "audio/mpeg",
            mp3,
            if plan.quick { 1 } else { 3 },
        ),
        (
            "flac",
            "chirp.flac",
            "audio/flac",
            flac,
            if plan.quick { 1 } else { 20 },
        ),
    ];
    let mut rows = Vec::new();
    for (kind, name, content_type, bytes, reps) in inputs {
        let local = FileSrc::Local(write_file(dir.path(), name, &bytes)?);
        let route = format!("/{name}");
        fx.server
            .route(&route, Route::new(bytes.clone()).content_type(content_type));
        let remote = FileSrc::Remote(fx.server.url(&route));
        let len = bytes.len() as u64;
        let (mut net, mut file) = (vec![], vec![]);
        for _ in 0..plan.rounds {
            let (a, n_net) = timed(&fx, &remote, len, reps)?;
            let (b, n_file) = timed(&fx, &local, len, reps)?;
            if n_net != n_file || n_net == 0 {
                bail!("{kind}: {n_net} samples over loopback, {n_file} from the file");
            }
            net.push(a);
            file.push(b);
        }
        let row = CaseResult::ratio(
            &format!("decode.{kind}"),
            "MiB/s",
            Better::Higher,
            Stat::of(&net).context("no measurement")?,
            "local file",
            Stat::of(&file).context("no measurement")?,
            0.95,
        );
        rows.push(row.note(format!(
            "{} KiB of {kind}, decoded {reps}× per round (stream opened each time) with \
             kithara-decode over Stream<File>: loopback HTTP vs a local file; MiB/s of input, \
             same sample count checked",
            len >> 10
        )));
    }
    Ok(rows)
}
