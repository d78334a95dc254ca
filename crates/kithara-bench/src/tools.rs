//! The download tools the bench runs as processes: `kithara fetch` (this executable, as
//! `kithara-bench kithara fetch …`) and `curl`.

use std::{path::Path, process::Command};

use anyhow::{Context, Result};

/// `curl --version`'s first line, or `None` when curl cannot run.
pub(crate) fn curl_version() -> Option<String> {
    let out = Command::new("curl").arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().take(2).last())
        .map(|v| format!("curl {v}"))
}

/// `kithara fetch URL -o OUT -q`, run by this very executable.
pub(crate) fn fetch_cmd(url: &str, out: &Path) -> Result<Command> {
    let exe = std::env::current_exe().context("could not find the kithara-bench executable")?;
    let mut cmd = Command::new(exe);
    // `--no-cache`: straight into the output file, as curl writes it (and no round is served
    // from a cache an earlier round filled).
    cmd.arg(crate::AS_KITHARA)
        .arg("--no-cache")
        .arg("fetch")
        .arg(url)
        .arg("-o")
        .arg(out)
        .arg("-q");
    Ok(cmd)
}

/// `curl -s -o OUT URL`.
pub(crate) fn curl_cmd(url: &str, out: &Path) -> Command {
    let mut cmd = Command::new("curl");
    cmd.arg("-s").arg("-o").arg(out).arg(url);
    cmd
}

pub(crate) use kithara_test_support::process::without_proxy;
