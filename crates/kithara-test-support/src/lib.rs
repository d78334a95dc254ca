#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod pcm;

pub use kithara_loopback::*;

pub mod process {
    //! Child processes (the workspace's binaries, curl) in tests and benchmarks.

    use std::process::Command;

    /// Removes the proxy variables from `cmd`'s environment and exempts loopback (`NO_PROXY`),
    /// so the child talks to the loopback server directly whatever the machine's settings.
    pub fn without_proxy(cmd: &mut Command) -> &mut Command {
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost,::1")
    }
}

pub mod bench {
    //! Small helpers shared by the workspace's benchmarks.

    /// A positive whole number from the environment variable `name`, else `default`.
    pub fn env_usize(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&v| v > 0)
            .unwrap_or(default)
    }

    /// The median of `values` (the upper one of an even count); `None` if there are none.
    pub fn median<T: PartialOrd + Copy>(values: &[T]) -> Option<T> {
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v.get(v.len() / 2).copied()
    }
}
