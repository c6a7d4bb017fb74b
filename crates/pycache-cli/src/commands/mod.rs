//! One module per command; each turns its flags into library calls and prints the results.

mod compile;
mod ext;
mod hygiene;
mod inspect;
mod interpreters;
mod scheme;

use crate::cli::{Cli, Command};
use anyhow::Context;
use pycache::Interpreter;
use pycache::interpreter::{DiscoveryOptions, default_interpreter};

/// How a command ended, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Everything asked for was done (exit 0).
    Success,
    /// Some input failed; the rest was done (exit 1).
    Failure,
    /// Stopped by Ctrl-C (exit 130).
    Interrupted,
}

impl Status {
    /// [`Status::Success`] when everything succeeded, else [`Status::Failure`].
    pub(crate) fn of(succeeded: bool) -> Self {
        if succeeded {
            Status::Success
        } else {
            Status::Failure
        }
    }
}

impl From<Status> for std::process::ExitCode {
    fn from(status: Status) -> Self {
        match status {
            Status::Success => std::process::ExitCode::SUCCESS,
            Status::Failure => std::process::ExitCode::from(1),
            Status::Interrupted => std::process::ExitCode::from(130),
        }
    }
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<Status> {
    match cli.command {
        Command::Interpreters(args) => interpreters::run(&args),
        Command::Tag(args) => scheme::tag(&args),
        Command::Path(args) => scheme::path(&args),
        Command::Source(args) => scheme::source(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Check(args) => hygiene::check(&args),
        Command::Clean(args) => hygiene::clean(&args),
        Command::Ext(args) => ext::run(&args),
    }
}

/// Prints each walk problem (a path that does not exist, a directory that cannot be listed)
/// as an error; true when there was any: a walk error is a finding, and fails the command.
pub(crate) fn report_problems(
    printer: &mut crate::printer::Printer,
    problems: &[pycache::compile::WalkProblem],
) -> std::io::Result<bool> {
    for problem in problems {
        printer.error(&problem_text(problem))?;
    }
    Ok(!problems.is_empty())
}

/// The text of a walk problem, as compileall words it.
pub(crate) fn problem_text(problem: &pycache::compile::WalkProblem) -> String {
    use pycache::compile::WalkProblem;
    use pycache::python_str::repr;
    use std::os::unix::ffi::OsStrExt;
    match problem {
        WalkProblem::Missing(path) => {
            format!("{}: No such file or directory", repr(path.as_bytes()))
        }
        WalkProblem::CantList(dir, why) => format!("Can't list {}: {why}", repr(dir.as_bytes())),
    }
}

/// Walk problems in JSON: `{"missing": PATH}` or `{"cannot_list": DIR, "reason": WHY}`, each
/// with its `message`.
pub(crate) fn problems_json(problems: &[pycache::compile::WalkProblem]) -> Vec<serde_json::Value> {
    use pycache::compile::WalkProblem;
    problems
        .iter()
        .map(|problem| {
            let mut value = match problem {
                WalkProblem::Missing(path) => {
                    serde_json::json!({"missing": path.to_string_lossy()})
                }
                WalkProblem::CantList(dir, why) => {
                    serde_json::json!({"cannot_list": dir.to_string_lossy(), "reason": why})
                }
            };
            value["message"] = serde_json::json!(problem_text(problem));
            value
        })
        .collect()
}

/// The interpreters a `--python` value names; the default interpreter when absent.
pub(crate) fn resolve_interpreters(request: Option<&str>) -> anyhow::Result<Vec<Interpreter>> {
    let options = DiscoveryOptions::from_env();
    match request {
        None => Ok(vec![default_interpreter(&options).context(
            "no default interpreter ($VIRTUAL_ENV or python3 on PATH)",
        )?]),
        Some(text) => {
            let request: pycache::InterpreterRequest = text.parse()?;
            request
                .resolve(&options)
                .with_context(|| format!("--python {text}"))
        }
    }
}
