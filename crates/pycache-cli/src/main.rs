//! The `pycache` command: parses arguments, runs one command, prints, exits.
//!
//! Everything reusable lives in the `pycache` library; this binary only turns flags into
//! settings, calls the library and prints through [`printer::Printer`]. Exit status: 0 when all
//! went well, 1 when some input failed (or stdout could not be written), 2 for a usage error or a
//! run that could not start (no interpreter, a bad `--python`), 130 when interrupted. A closed
//! stdout (as in `pycache ... | head`) stops the printing, not the status.

mod cli;
mod commands;
mod help;
mod json_path;
mod printer;

use clap::Parser;
use std::process::ExitCode;

/// A command line that makes no sense: exit 2, as clap's own usage errors do.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = commands::run(args);
    if printer::stdout_failed() {
        if let Err(error) = result {
            printer::error_line(&format!("{error:#}"));
        }
        return ExitCode::from(1);
    }
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            printer::error_line(&format!("{error:#}"));
            ExitCode::from(2)
        }
    }
}
