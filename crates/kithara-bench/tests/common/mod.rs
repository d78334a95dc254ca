//! Shared helpers of the binary tests: run `kithara-bench` with no proxy from the environment.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use kithara_test_support::process::without_proxy;

/// The binary with `args`, no logging and no proxy from the environment.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kithara-bench"));
    without_proxy(&mut cmd).env_remove("RUST_LOG").args(args);
    cmd
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
