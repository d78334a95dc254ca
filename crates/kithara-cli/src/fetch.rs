//! `kithara fetch`: one resource written to a file.
//!
//! A remote resource is downloaded straight into `FILE.part` (disk storage on that path: each
//! byte is written once, in place) and renamed to `FILE` when complete, so a failure never leaves a
//! truncated `FILE`. Unless `--no-cache` is given, `FILE.part` is resumable
//! (`StorageKind::Resumable`): its index `FILE.part.idx` records which bytes are real, an
//! interrupted or failed fetch keeps both, and the same command later validates them with the
//! server (`If-Range`) and continues, saying "resuming at N bytes"; a changed version starts
//! again. The output is checked before any request: a directory or a missing parent
//! fails at once. `--memory` downloads into memory and writes the file from there; a local path is
//! copied.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use kithara_file::{File, FileConfig, FileEvent, FileSrc, StorageKind};
use kithara_storage::StorageResource;
use kithara_stream::{
    dl::{Downloader, DownloaderConfig, RetryPolicy},
    Stream,
};

use tokio::sync::broadcast;

use crate::{args::FetchArgs, progress, Ui};

/// Size of the buffer each `Stream::read` fills.
pub(crate) const COPY_BUF: usize = 256 * 1024;
/// How often the progress bar is refreshed while the download runs.
const TICK: Duration = Duration::from_millis(100);

pub(crate) async fn run(args: FetchArgs, ui: Ui, resume: bool) -> Result<()> {
    let part = check_output(&args.output)?;
    let label = kithara_open::label(&args.source);
    let started = Instant::now();
    let bytes = match args.source.clone() {
        FileSrc::Local(path) => copy_local(&path, &part, &args.output)?,
        src if kithara_open::is_hls(&src) => {
            crate::fetch_hls::download(src, &args, &part, &label, ui).await?
        }
        src => download(src, &args, &part, &label, ui, resume && !args.memory).await?,
    };
    if ui.summary {
        eprintln!(
            "fetched {} in {} to {}",
            progress::fmt_bytes(bytes),
            progress::fmt_rate(bytes, started.elapsed()),
            args.output.display()
        );
    }
    Ok(())
}

/// Fails before any byte is fetched if `output` cannot be written; returns `FILE.part`.
fn check_output(output: &Path) -> Result<PathBuf> {
    if output.is_dir() {
        bail!("{} is a directory: give a file name", output.display());
    }
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "cannot write {}: the directory {} does not exist",
            output.display(),
            parent.display()
        );
    }
    part_path(output)
}

/// `FILE.part.idx`: the index of a resumable `FILE.part`.
fn index_path(part: &Path) -> PathBuf {
    let mut name = part.as_os_str().to_os_string();
    name.push(".idx");
    PathBuf::from(name)
}

/// Removes `FILE.part` and its index.
fn remove_part(part: &Path) {
    let _ = fs::remove_file(part);
    let _ = fs::remove_file(index_path(part));
}

/// Whether a failed resumable fetch left bytes worth resuming; if not, its files are removed.
fn keep_part(part: &Path, resume: bool) -> bool {
    let has_bytes = fs::metadata(part).is_ok_and(|m| m.len() > 0);
    if resume && has_bytes {
        return true;
    }
    remove_part(part);
    false
}

/// Tells what the stream found in `FILE.part` when it opened.
fn report_open(events: &mut broadcast::Receiver<FileEvent>, part: &Path, ui: Ui) {
    while let Ok(event) = events.try_recv() {
        match event {
            FileEvent::FromCache { present, .. } if ui.summary => {
                eprintln!("resuming at {present} bytes");
            }
            FileEvent::VersionChanged { discarded, .. } if ui.summary => eprintln!(
                "the server's version changed: discarding {discarded} bytes of {} and starting again",
                part.display()
            ),
            _ => {}
        }
    }
}

async fn download(
    src: FileSrc,
    args: &FetchArgs,
    part: &Path,
    label: &str,
    ui: Ui,
    resume: bool,
) -> Result<u64> {
    let retry = RetryPolicy::builder()
        .max_attempts(args.retries.saturating_add(1))
        .build();
    let downloader = Downloader::new(DownloaderConfig::builder().retry(retry).build())?;
    let storage = if args.memory {
        StorageKind::Memory
    } else if resume {
        StorageKind::Resumable(part.to_path_buf())
    } else {
        StorageKind::Disk(part.to_path_buf())
    };
    let (events, mut opening) = broadcast::channel(16);
    let src_again = src.clone();
    let config = FileConfig::from_src(src, &downloader)
        .options(
            kithara_stream::StreamOptions::builder()
                .storage(storage)
                .events(events)
                .wait_timeout(args.timeout)
                .build(),
        )
        .build();
    // The stream's errors already name the (redacted) URL.
    let opened = Stream::<File>::new(config).await;
    report_open(&mut opening, part, ui);
    drop(opening);
    let stream = match opened {
        Ok(s) => s,
        Err(e) => {
            if keep_part(part, resume) {
                return Err(anyhow::Error::from(e).context(format!(
                    "{} is kept: run the same command again to resume",
                    part.display()
                )));
            }
            return Err(e.into());
        }
    };
    if kithara_open::is_playlist_type(stream.source().content_type()) {
        tracing::debug!(
            url = label,
            "the server answered with a playlist: fetching it as HLS"
        );
        release_part(stream, &src_again, part, args.timeout).await?;
        return crate::fetch_hls::download(src_again, args, part, label, ui).await;
    }
    let bar = progress::bytes_bar(stream.len(), ui.progress);
    let cancel = stream.cancel_token().clone();
    let part_kept = part.to_path_buf();
    let (part, output, label, memory) = (
        part.to_path_buf(),
        args.output.clone(),
        label.to_owned(),
        args.memory,
    );
    let (timeout, task_bar) = (args.timeout, bar.clone());
    // Waiting for storage (and `Stream` reads) block: keep them off the runtime.
    let job = tokio::task::spawn_blocking(move || {
        let written = if memory {
            write_from_stream(stream, &label, &part, &task_bar)
        } else {
            // The stream (and its file handle) goes before the rename.
            let n = await_disk(&stream, &label, timeout, &task_bar);
            if let Some(storage) = stream.source().storage() {
                // Everything learnt reaches FILE.part.idx now, not in a later drop.
                if let Err(e) = storage.flush_cache() {
                    tracing::warn!(error = %e, "could not record the download's progress");
                }
            }
            drop(stream);
            n
        };
        let done = written.and_then(|n| {
            fs::rename(&part, &output)
                .with_context(|| format!("renaming {} to {}", part.display(), output.display()))?;
            let _ = fs::remove_file(index_path(&part));
            Ok(n)
        });
        if done.is_err() && keep_part(&part, resume) {
            return done.with_context(|| {
                format!(
                    "{} is kept: run the same command again to resume",
                    part.display()
                )
            });
        }
        done
    });
    tokio::pin!(job);
    let outcome = tokio::select! {
        joined = &mut job => joined,
        () = interrupted() => {
            // Wakes the blocked wait; the job then records what arrived (resumable) or removes
            // the part file.
            cancel.cancel();
            let _ = (&mut job).await;
            bar.abandon();
            if part_kept.exists() {
                bail!(
                    "interrupted; {} is kept: run the same command again to resume",
                    part_kept.display()
                );
            }
            bail!("interrupted");
        }
    };
    let bytes = outcome.context("the download thread failed")??;
    bar.finish_and_clear();
    Ok(bytes)
}

/// Drops a file stream that turned out to be a playlist and removes what it left in `part`.
/// A resumable part's index is written by the storage's flusher once the last handle goes, so
/// this waits (up to `timeout`) until the file is released before removing it.
async fn release_part(
    stream: Stream<File>,
    src: &FileSrc,
    part: &Path,
    timeout: Duration,
) -> Result<()> {
    stream.cancel_token().cancel();
    let key = match src {
        FileSrc::Remote(url) => Some(kithara_storage::AssetKey::new(url)),
        _ => None,
    };
    let part = part.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<()> {
        drop(stream);
        if let Some(key) = key.filter(|_| part.exists()) {
            let held = kithara_storage::AssetStore::open_standalone_waiting(&key, &part, timeout)
                .with_context(|| format!("{} is still in use", part.display()))?;
            drop(held);
        }
        remove_part(&part);
        Ok(())
    })
    .await
    .context("the download thread failed")?
}

/// Waits until the disk storage behind `stream` holds the whole resource, refreshing `bar`.
/// Fails if no byte arrives for `timeout`, or with the download's own error.
fn await_disk(
    stream: &Stream<File>,
    label: &str,
    timeout: Duration,
    bar: &ProgressBar,
) -> Result<u64> {
    let storage: &StorageResource = stream
        .source()
        .storage()
        .context("a remote stream has storage")?;
    let mut last = (storage.covered(), Instant::now());
    loop {
        let covered = storage.covered();
        bar.set_position(covered);
        if let Some(len) = storage.len().filter(|_| storage.is_complete()) {
            return Ok(len);
        }
        if covered != last.0 {
            last = (covered, Instant::now());
        } else if last.1.elapsed() >= timeout {
            bail!("no bytes of {label} arrived for {timeout:?} (at byte {covered})");
        }
        let gap = storage.first_gap(0..u64::MAX).map_or(0, |g| g.start);
        match storage.wait_range(gap..gap.saturating_add(1), TICK) {
            Ok(_) => {}
            Err(kithara_storage::Error::TimedOut { .. }) => {}
            Err(e) => {
                return Err(kithara_stream::Error::from(e))
                    .with_context(|| format!("downloading {label} at byte {gap}"));
            }
        }
    }
}

/// Reads the whole stream and writes it to `part` (used with in-memory storage).
fn write_from_stream(
    mut stream: Stream<File>,
    label: &str,
    part: &Path,
    bar: &ProgressBar,
) -> Result<u64> {
    let mut file =
        fs::File::create(part).with_context(|| format!("creating {}", part.display()))?;
    pump(&mut stream, label, bar, |_, chunk| {
        file.write_all(chunk)
            .with_context(|| format!("writing {}", part.display()))
    })
}

/// Copies a local file through `FILE.part`.
fn copy_local(path: &Path, part: &Path, output: &Path) -> Result<u64> {
    let n = fs::copy(path, part).with_context(|| format!("copying {}", path.display()));
    let n = n.and_then(|n| {
        fs::rename(part, output)
            .with_context(|| format!("renaming {} to {}", part.display(), output.display()))?;
        Ok(n)
    });
    if n.is_err() {
        let _ = fs::remove_file(part);
    }
    n
}

/// Resolves on Ctrl-C; never, if the signal cannot be watched.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `FILE.part`, next to `FILE` so the final rename stays on one file system.
fn part_path(output: &Path) -> Result<PathBuf> {
    let Some(name) = output.file_name() else {
        bail!("{} is not a file name", output.display());
    };
    let mut part = name.to_os_string();
    part.push(".part");
    Ok(output.with_file_name(part))
}

/// Reads `stream` to its end in [`COPY_BUF`] chunks, handing each to `sink` with its offset and
/// advancing `bar`. Returns the number of bytes read. Blocks: call it on a blocking thread.
pub(crate) fn pump(
    stream: &mut Stream<File>,
    label: &str,
    bar: &ProgressBar,
    mut sink: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<u64> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0u64;
    loop {
        if stream.cancel_token().is_cancelled() {
            bail!("interrupted");
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {label} at byte {total}"));
            }
        };
        sink(total, &buf[..n])?;
        total += n as u64;
        bar.inc(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_file_sits_next_to_the_output() -> Result<()> {
        assert_eq!(
            part_path(Path::new("a/b.mp3"))?,
            PathBuf::from("a/b.mp3.part")
        );
        assert_eq!(part_path(Path::new("b"))?, PathBuf::from("b.part"));
        assert!(part_path(Path::new("..")).is_err());
        Ok(())
    }

    #[test]
    fn unwritable_outputs_fail_up_front() {
        let dir = std::env::temp_dir();
        assert!(check_output(&dir).is_err());
        assert!(check_output(&dir.join("no-such-dir-kithara/x.mp3")).is_err());
        assert!(check_output(&dir.join("x.mp3")).is_ok());
    }
}
