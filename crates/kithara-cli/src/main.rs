//! `kithara`: the command-line tool of the kithara workspace (see the crate's README and
//! [`kithara_cli::main_from`]).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    kithara_cli::main_from(std::env::args_os())
}
