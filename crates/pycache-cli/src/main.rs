//! The `pycache` command: parses arguments, runs one command, prints, exits.
//!
//! Everything reusable lives in the `pycache` library; this binary only turns flags into
//! settings, calls the library and prints through [`printer::Printer`]. A closed stdout (as in
//! `pycache ... | head`) ends the program quietly with status 0, as ripgrep does.

mod cli;
mod commands;
mod json_path;
mod printer;

use clap::Parser;
use std::process::ExitCode;

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(status) => status.into(),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            printer::error_line(&format!("{error:#}"));
            ExitCode::from(2)
        }
    }
}
