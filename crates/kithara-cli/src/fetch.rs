//! `kithara fetch`: one stream copied to a file, through `FILE.part` so a failure never leaves a
//! truncated `FILE`.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use kithara_file::{File, FileConfig, FileSrc, StorageKind};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig, RetryPolicy},
    redact_url, Stream,
};

use crate::{args::FetchArgs, progress, Ui};

/// Size of the buffer each `Stream::read` fills.
pub(crate) const COPY_BUF: usize = 256 * 1024;

pub(crate) async fn run(args: FetchArgs, ui: Ui) -> Result<()> {
    let src = FileSrc::parse(&args.source);
    let retry = RetryPolicy::builder()
        .max_attempts(args.retries.saturating_add(1))
        .build();
    let downloader = Downloader::new(DownloaderConfig::builder().retry(retry).build());
    let storage = if args.memory {
        StorageKind::Memory
    } else {
        StorageKind::TempFile
    };
    let label = label(&src);
    let config = FileConfig::new(src)
        .downloader(downloader)
        .storage(storage)
        .wait_timeout(args.timeout);

    let started = Instant::now();
    // The stream's errors already name the (redacted) URL or path.
    let stream = Stream::<File>::new(config).await?;
    let bar = progress::bytes_bar(stream.len(), ui.progress);
    let cancel = stream.cancel_token().clone();
    let part = part_path(&args.output)?;
    let output = args.output.clone();
    let job = {
        let bar = bar.clone();
        // `Stream` blocks on reads: it is only ever read on a blocking thread.
        tokio::task::spawn_blocking(move || write_file(stream, &label, &part, &output, &bar))
    };
    tokio::pin!(job);
    let outcome = tokio::select! {
        joined = &mut job => joined,
        () = interrupted() => {
            // Wakes a read blocked on the network; the copy loop then stops and removes the part file.
            cancel.cancel();
            let _ = (&mut job).await;
            bar.abandon();
            bail!("interrupted");
        }
    };
    let bytes = outcome.context("the copy thread failed")??;
    bar.finish_and_clear();
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

/// Resolves on Ctrl-C; never, if the signal cannot be watched.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The source as it may appear in messages: a URL without query or credentials, or a path.
fn label(src: &FileSrc) -> String {
    match src {
        FileSrc::Remote(url) => redact_url(url).to_string(),
        FileSrc::Local(path) => path.display().to_string(),
        other => format!("{other:?}"),
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

/// Copies the whole stream into `part`, syncs it and renames it to `output`; on any failure the part
/// file is removed. Runs on a blocking thread.
fn write_file(
    mut stream: Stream<File>,
    label: &str,
    part: &Path,
    output: &Path,
    bar: &ProgressBar,
) -> Result<u64> {
    let mut file =
        fs::File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let copied = pump(&mut stream, label, bar, |_, chunk| {
        file.write_all(chunk)
            .with_context(|| format!("writing {}", part.display()))
    })
    .and_then(|n| {
        file.sync_all()
            .with_context(|| format!("writing {}", part.display()))?;
        drop(file);
        fs::rename(part, output)
            .with_context(|| format!("renaming {} to {}", part.display(), output.display()))?;
        Ok(n)
    });
    if copied.is_err() {
        let _ = fs::remove_file(part);
    }
    copied
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
}
