//! Where decoded PCM goes: a 32-bit float WAV file (`hound`), a raw little-endian f32 file, or
//! stdout.
//!
//! Files are written to `OUT.part` and renamed to `OUT` when complete, so a failed decode never
//! leaves a truncated `OUT`; [`check_output`] fails before any request if `OUT` cannot be written.

use std::{
    fs,
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use crate::args::Output;

/// Bytes buffered before a write to the output: one `write` syscall per 256 KiB instead of one
/// per decoded packet (a packet of MP3 is 4.5 KiB of f32, more than half `BufWriter`'s default).
const OUT_BUF: usize = 256 << 10;

/// An open output.
pub(crate) struct Sink {
    kind: Kind,
    /// The little-endian bytes of the samples being written, reused from chunk to chunk.
    scratch: Vec<u8>,
    /// `(OUT.part, OUT)` for file outputs.
    rename: Option<(PathBuf, PathBuf)>,
    /// Set when stdout was closed by the reader (`| head`): the rest is dropped.
    closed: bool,
}

enum Kind {
    Wav(hound::WavWriter<BufWriter<fs::File>>),
    Raw(Box<dyn Write + Send>),
}

/// Fails if `output` cannot be written: a directory, or a missing parent directory.
pub(crate) fn check_output(output: &Output) -> Result<()> {
    let (Output::Wav(path) | Output::F32(path)) = output else {
        return Ok(());
    };
    if path.is_dir() {
        bail!("{} is a directory: give a file name", path.display());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

impl Sink {
    /// Opens `output` for `channels` channels at `rate` Hz.
    pub(crate) fn create(output: &Output, rate: u32, channels: u16) -> Result<Self> {
        let (kind, rename) = match output {
            Output::Stdout => (
                Kind::Raw(Box::new(BufWriter::with_capacity(OUT_BUF, io::stdout()))),
                None,
            ),
            Output::F32(path) => {
                let part = part_path(path);
                let file = fs::File::create(&part)
                    .with_context(|| format!("creating {}", part.display()))?;
                (
                    Kind::Raw(Box::new(BufWriter::with_capacity(OUT_BUF, file))),
                    Some((part, path.clone())),
                )
            }
            Output::Wav(path) => {
                let part = part_path(path);
                let spec = hound::WavSpec {
                    channels,
                    sample_rate: rate,
                    bits_per_sample: 32,
                    sample_format: hound::SampleFormat::Float,
                };
                let file = fs::File::create(&part)
                    .with_context(|| format!("creating {}", part.display()))?;
                let writer =
                    hound::WavWriter::new(BufWriter::with_capacity(OUT_BUF, file), spec)
                        .with_context(|| format!("writing the WAV header of {}", part.display()))?;
                (Kind::Wav(writer), Some((part, path.clone())))
            }
        };
        Ok(Self {
            kind,
            scratch: Vec::new(),
            rename,
            closed: false,
        })
    }

    /// Appends interleaved samples.
    pub(crate) fn write(&mut self, samples: &[f32]) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        match &mut self.kind {
            Kind::Wav(w) => {
                for &s in samples {
                    w.write_sample(s).context("writing the WAV file")?;
                }
            }
            Kind::Raw(w) => {
                self.scratch.clear();
                self.scratch.reserve(samples.len() * 4);
                for s in samples {
                    self.scratch.extend_from_slice(&s.to_le_bytes());
                }
                match w.write_all(&self.scratch) {
                    Ok(()) => {}
                    // The reader of stdout went away (`| head -c N`): not an error of ours.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe && self.rename.is_none() => {
                        self.closed = true;
                    }
                    Err(e) => return Err(e).context("writing the PCM"),
                }
            }
        }
        Ok(())
    }

    /// Completes the output (WAV header, flush, rename of `OUT.part`); removes `OUT.part` if that
    /// fails.
    pub(crate) fn finish(self) -> Result<()> {
        let Self {
            kind,
            rename,
            closed,
            ..
        } = self;
        let to_stdout = rename.is_none();
        let flushed = match kind {
            Kind::Wav(w) => w.finalize().context("finishing the WAV file"),
            Kind::Raw(mut w) => match w.flush() {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe && to_stdout => Ok(()),
                Err(_) if closed => Ok(()),
                other => other.context("writing the PCM"),
            },
        };
        let Some((part, out)) = rename else {
            return flushed;
        };
        publish_part(&part, &out, flushed)
    }

    /// Removes `OUT.part` after a failure.
    pub(crate) fn discard(self) {
        let Self { kind, rename, .. } = self;
        drop(kind);
        if let Some((part, _)) = rename {
            let _ = fs::remove_file(part);
        }
    }
}

/// Renames `part` to `output` when `written` succeeded; removes `part` when anything failed, so a
/// failed or interrupted command never leaves a truncated output behind.
pub(crate) fn publish_part<T>(part: &Path, output: &Path, written: Result<T>) -> Result<T> {
    let done = written.and_then(|v| {
        fs::rename(part, output)
            .with_context(|| format!("renaming {} to {}", part.display(), output.display()))?;
        Ok(v)
    });
    if done.is_err() {
        let _ = fs::remove_file(part);
    }
    done
}
