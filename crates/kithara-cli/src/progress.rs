//! The byte progress bar shown on stderr while a stream is copied.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const BAR: &str =
    "{spinner:.green} [{elapsed_precise}] [{wide_bar:.cyan/blue}] {bytes}/{total_bytes} ({binary_bytes_per_sec}, ETA {eta})";
const SPINNER: &str = "{spinner:.green} [{elapsed_precise}] {bytes} ({binary_bytes_per_sec})";
const TIME_BAR: &str =
    "{spinner:.green} [{elapsed_precise}] [{wide_bar:.cyan/blue}] {pos}/{len} ms of audio (ETA {eta})";
const TIME_SPINNER: &str = "{spinner:.green} [{elapsed_precise}] {pos} ms of audio";

/// Whether a progress bar would be visible: stderr is a terminal and not taken by logs or `--quiet`.
pub(crate) fn wanted(quiet: bool, logging: bool) -> bool {
    !quiet && !logging && std::io::stderr().is_terminal()
}

/// A byte-count bar on stderr (bytes, rate, ETA) when `len` is known, a spinner when it is not;
/// hidden unless `visible`.
pub(crate) fn bytes_bar(len: Option<u64>, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(len) => (ProgressBar::new(len), BAR),
        None => (ProgressBar::new_spinner(), SPINNER),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    // The templates are constants; fall back to the default look rather than fail if one is rejected.
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}

/// A media-time bar on stderr (positions in milliseconds of audio written) when `total` is known, a
/// spinner when it is not; hidden unless `visible`.
pub(crate) fn time_bar(total: Option<std::time::Duration>, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(t) => (
            ProgressBar::new(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            TIME_BAR,
        ),
        None => (ProgressBar::new_spinner(), TIME_SPINNER),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}

/// `1234567` → `1.2 MiB`.
pub(crate) fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// Mebibytes per second of `bytes` moved in `elapsed`.
pub(crate) fn mib_per_sec(bytes: u64, elapsed: std::time::Duration) -> f64 {
    let secs = elapsed.as_secs_f64().max(1e-6);
    bytes as f64 / (1024.0 * 1024.0) / secs
}

/// `0.42 s (76.2 MiB/s)`.
pub(crate) fn fmt_rate(bytes: u64, elapsed: std::time::Duration) -> String {
    format!(
        "{:.2} s ({:.1} MiB/s)",
        elapsed.as_secs_f64(),
        mib_per_sec(bytes, elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_formatting() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(3 << 20), "3.0 MiB");
        assert_eq!(fmt_bytes(5 << 30), "5.0 GiB");
    }
}
