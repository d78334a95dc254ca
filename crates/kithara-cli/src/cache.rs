//! `kithara cache ls|clear|gc`: the persistent cache seen from the command line.

use std::{
    io::Write,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use anyhow::{bail, Context, Result};
use kithara_storage::{AssetStore, AssetStoreConfig, GcReport, DEFAULT_MAX_SIZE};

use crate::{args::CacheCommand, progress};

/// The persistent cache `decode`, `info`, `play` and `fetch` read through: `None` with `--no-cache`. A
/// `--cache-dir` that cannot be opened is an error; the platform's default cache directory that
/// cannot be opened (a read-only home) means reading without the cache, with a warning, as the
/// player does.
pub(crate) fn store(dir: Option<PathBuf>, no_cache: bool) -> Result<Option<AssetStore>> {
    if no_cache {
        return Ok(None);
    }
    match dir {
        None => Ok(AssetStore::open_default()),
        Some(dir) => Ok(Some(
            AssetStore::new(AssetStoreConfig::builder().dir(dir).build())
                .context("opening the cache directory")?,
        )),
    }
}

pub(crate) fn run(cmd: &CacheCommand, dir: Option<PathBuf>, no_cache: bool) -> Result<()> {
    if no_cache {
        bail!("`kithara cache` works on the cache: drop --no-cache");
    }
    let mut config = AssetStoreConfig::builder()
        .background_eviction(false)
        .build();
    config.dir = dir;
    let store = AssetStore::new(config).context("opening the cache directory")?;
    let mut out = std::io::stdout().lock();
    match cmd {
        CacheCommand::Ls => {
            let list = store.list().context("listing the cache")?;
            let now = SystemTime::now();
            writeln!(out, "{:>10}  {:>6}  {:>9}  URL", "SIZE", "DONE", "LAST USE")?;
            for e in &list {
                let done = e
                    .percent_complete()
                    .map_or_else(|| String::from("?"), |p| format!("{p:.0}%"));
                let age = now.duration_since(e.last_access).unwrap_or(Duration::ZERO);
                writeln!(
                    out,
                    "{:>10}  {:>6}  {:>9}  {}",
                    progress::fmt_bytes(e.size_on_disk),
                    done,
                    fmt_age(age),
                    e.label.as_deref().unwrap_or("<damaged>")
                )?;
            }
            let total: u64 = list.iter().map(|e| e.size_on_disk).sum();
            writeln!(
                out,
                "{} assets, {} in {}",
                list.len(),
                progress::fmt_bytes(total),
                store.dir().display()
            )?;
        }
        CacheCommand::Clear => report(&mut out, &store.clear().context("clearing the cache")?)?,
        CacheCommand::Gc { max_size } => {
            let limit = max_size.unwrap_or(DEFAULT_MAX_SIZE);
            report(&mut out, &store.gc(limit).context("trimming the cache")?)?;
        }
    }
    Ok(())
}

fn report(out: &mut impl Write, r: &GcReport) -> Result<()> {
    writeln!(
        out,
        "removed {} assets ({}), kept {} in use; {} remain",
        r.removed,
        progress::fmt_bytes(r.freed_bytes),
        r.skipped_in_use,
        progress::fmt_bytes(r.remaining_bytes)
    )?;
    Ok(())
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago`.
fn fmt_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_well() {
        assert_eq!(fmt_age(Duration::from_secs(5)), "5s ago");
        assert_eq!(fmt_age(Duration::from_secs(300)), "5m ago");
        assert_eq!(fmt_age(Duration::from_secs(7200)), "2h ago");
        assert_eq!(fmt_age(Duration::from_secs(3 * 86_400)), "3d ago");
    }
}
