//! `kithara fetch`: one resource written to a file.
//!
//! A remote resource is read through the persistent cache (the `AssetStore`) unless `--no-cache`:
//! the stream's storage is the cached asset, so a URL already complete in the cache costs one
//! revalidation at most (none when the server cannot be reached), and an interrupted or failed
//! fetch leaves its bytes in the cache, where the same command later resumes them (`If-Range`),
//! saying "resuming at N bytes". When the asset is complete it is exported
//! (`StorageResource::export_to`) to `FILE.part`, which is renamed to `FILE`, so a failure never
//! leaves a truncated `FILE`. With `--no-cache` the download goes straight into `FILE.part` (disk
//! storage on that path: each byte written once, in place), removed on failure. The output is
//! checked before any request: a directory or a missing parent fails at once. `--memory`
//! downloads into memory and writes the file from there; a local path is copied.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use kithara_file::{File, FileConfig, FileEvent, FileSrc, StorageKind};
use kithara_storage::{AssetStore, StorageResource};
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

pub(crate) async fn run(args: FetchArgs, ui: Ui, store: Option<AssetStore>) -> Result<()> {
    let part = check_output(&args.output)?;
    let label = kithara_open::label(&args.source);
    let started = Instant::now();
    let bytes = match args.source.clone() {
        FileSrc::Local(path) => copy_local(&path, &part, &args.output)?,
        src if kithara_open::is_hls(&src) => {
            crate::fetch_hls::download(src, &args, &part, &label, ui, store).await?
        }
        src => download(src, &args, &part, &label, ui, store).await?,
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

/// The downloader of `fetch`: `--retries` retries, no system proxy.
pub(crate) fn downloader(args: &FetchArgs) -> Result<Downloader> {
    let retry = RetryPolicy::builder()
        .max_attempts(args.retries.saturating_add(1))
        .build();
    Ok(Downloader::new(
        DownloaderConfig::builder().retry(retry).build(),
    )?)
}

/// Where a fetch keeps its bytes while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// In the persistent cache: what arrived stays there for the next run.
    Cache,
    /// Straight in `FILE.part`, removed on failure.
    Part,
    /// In memory, then written to `FILE.part`.
    Memory,
}

/// The failure of a fetch whose bytes may be kept in the cache for the next run.
fn kept(err: anyhow::Error, keep: Keep, covered: u64) -> anyhow::Error {
    if keep == Keep::Cache && covered > 0 {
        err.context(format!(
            "what arrived ({covered} bytes) is kept in the cache: run the same command again \
             to resume"
        ))
    } else {
        err
    }
}

/// Tells what the stream found in the cache when it opened.
fn report_open(events: &mut broadcast::Receiver<FileEvent>, ui: Ui) {
    while let Ok(event) = events.try_recv() {
        match event {
            FileEvent::FromCache { present, total, .. }
                if ui.summary && total.is_none_or(|t| present < t) =>
            {
                eprintln!("resuming at {present} bytes");
            }
            FileEvent::VersionChanged { discarded, .. } if ui.summary => eprintln!(
                "the server's version changed: discarding {discarded} cached bytes and starting \
                 again"
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
    store: Option<AssetStore>,
) -> Result<u64> {
    let hls_store = store.clone().filter(|_| !args.memory);
    let (keep, storage) = match store {
        _ if args.memory => (Keep::Memory, StorageKind::Memory),
        Some(store) => (Keep::Cache, StorageKind::Cache(store)),
        None => (Keep::Part, StorageKind::Disk(part.to_path_buf())),
    };
    let (events, mut opening) = broadcast::channel(16);
    let src_again = src.clone();
    let config = FileConfig::from_src(src, &downloader(args)?)
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
    report_open(&mut opening, ui);
    drop(opening);
    let stream = match opened {
        Ok(s) => s,
        Err(e) => {
            if keep == Keep::Part {
                let _ = fs::remove_file(part);
            }
            return Err(e.into());
        }
    };
    if kithara_open::is_playlist_type(stream.source().content_type()) {
        tracing::debug!(
            url = label,
            "the server answered with a playlist: fetching it as HLS"
        );
        release(stream, part, keep).await?;
        return crate::fetch_hls::download(src_again, args, part, label, ui, hls_store).await;
    }
    let bar = progress::bytes_bar(stream.len(), ui.progress);
    let cancel = stream.cancel_token().clone();
    let (part, output, label) = (part.to_path_buf(), args.output.clone(), label.to_owned());
    let (timeout, task_bar) = (args.timeout, bar.clone());
    // Waiting for storage (and `Stream` reads) block: keep them off the runtime.
    let job = tokio::task::spawn_blocking(move || {
        let (written, covered) = match keep {
            Keep::Memory => (write_from_stream(stream, &label, &part, &task_bar), 0),
            _ => write_from_storage(stream, keep, &label, &part, timeout, &task_bar),
        };
        crate::sink::publish_part(&part, &output, written).map_err(|e| kept(e, keep, covered))
    });
    tokio::pin!(job);
    let outcome = tokio::select! {
        joined = &mut job => joined,
        () = interrupted() => {
            // Wakes the blocked wait; the job then records what arrived (cache) or removes the
            // part file.
            cancel.cancel();
            let joined = (&mut job).await;
            bar.abandon();
            return match joined {
                Ok(Err(e)) => Err(e.context("interrupted")),
                _ => Err(anyhow::anyhow!("interrupted")),
            };
        }
    };
    let bytes = outcome.context("the download thread failed")??;
    bar.finish_and_clear();
    Ok(bytes)
}

/// Waits until the stream's storage holds the whole resource (then, from the cache, writes it to
/// `part`) and records what arrived. Returns the length written and the bytes present.
fn write_from_storage(
    stream: Stream<File>,
    keep: Keep,
    label: &str,
    part: &Path,
    timeout: Duration,
    bar: &ProgressBar,
) -> (Result<u64>, u64) {
    let n = await_disk(&stream, label, timeout, bar);
    let Some(storage) = stream.source().storage() else {
        return (n, 0);
    };
    let covered = storage.covered();
    // Everything learnt reaches the index now, not in a later drop.
    if let Err(e) = storage.flush_cache() {
        tracing::warn!(error = %e, "could not record the download's progress");
    }
    let n = match n {
        Ok(_) if keep == Keep::Cache => storage
            .export_to(part)
            .with_context(|| format!("writing {} from the cache", part.display())),
        n => n,
    };
    // The stream (and its file handle) goes before the rename.
    drop(stream);
    (n, covered)
}

/// Drops a file stream that turned out to be a playlist; a `FILE.part` it wrote is removed.
async fn release(stream: Stream<File>, part: &Path, keep: Keep) -> Result<()> {
    stream.cancel_token().cancel();
    let part = part.to_path_buf();
    tokio::task::spawn_blocking(move || {
        drop(stream);
        if keep == Keep::Part {
            let _ = fs::remove_file(&part);
        }
    })
    .await
    .context("the download thread failed")
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
