//! One module per command; each turns its flags into library calls and prints the results.

mod cache;
mod code;
mod compile;
mod ext;
mod generate;
mod hygiene;
mod inspect;
mod interpreters;
mod reproducible;
mod scheme;
mod syntax_error;

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

/// Set when a `-x` pattern failed while matching (see [`report_exclude_failure`]).
static EXCLUDE_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says on stderr that `-x` failed while matching, if it did; the run then exits 1.
pub(crate) fn report_exclude_failure(exclude: Option<&pycache::exclude::Exclude>) {
    if let Some(failure) = exclude.and_then(pycache::exclude::Exclude::failure) {
        crate::printer::error_line(&format!("-x: {failure}"));
        EXCLUDE_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<Status> {
    let status = run_command(cli)?;
    if status == Status::Success && EXCLUDE_FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(Status::Failure);
    }
    Ok(status)
}

fn run_command(cli: Cli) -> anyhow::Result<Status> {
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
        Command::Cache(command) => cache::run(&command),
        Command::Completions(args) => generate::completions(&args),
        Command::Man => generate::man(),
    }
}

/// Prints each walk problem (a path that does not exist, a directory that cannot be listed)
/// as an error; true when there was any: a walk error is a finding, and fails the command.
pub(crate) fn report_problems(
    printer: &mut crate::printer::Printer,
    problems: &[pycache::walk::WalkProblem],
) -> std::io::Result<bool> {
    for problem in problems {
        printer.error(&problem_text(problem))?;
    }
    Ok(!problems.is_empty())
}

/// The text of a walk problem, as compileall words it.
pub(crate) fn problem_text(problem: &pycache::walk::WalkProblem) -> String {
    use pycache::python_str::repr;
    use pycache::walk::WalkProblem;
    use std::os::unix::ffi::OsStrExt;
    match problem {
        WalkProblem::Missing(path) => {
            format!("{}: No such file or directory", repr(path.as_bytes()))
        }
        WalkProblem::CantList(dir, why) => format!("Can't list {}: {why}", repr(dir.as_bytes())),
    }
}

/// Walk problems in JSON, as `docs/json.md` says: `{"kind", "path", "reason"}`.
pub(crate) fn problems_json(problems: &[pycache::walk::WalkProblem]) -> Vec<serde_json::Value> {
    problems.iter().map(compile::problem_json).collect()
}

/// The interpreters a `--python` value names; the default interpreter when absent. For `all`,
/// what was left out (a second interpreter of one cache tag, Python 2) is said on stderr.
pub(crate) fn resolve_interpreters(request: Option<&str>) -> anyhow::Result<Vec<Interpreter>> {
    let options = DiscoveryOptions::from_env();
    let hint = |error: pycache::interpreter::InterpreterError| {
        if error.is_not_found() {
            anyhow::anyhow!("{}; `pycache interpreters` lists them", error.reason())
        } else {
            anyhow::Error::new(error)
        }
    };
    match request {
        None => Ok(vec![default_interpreter(&options).map_err(hint).context(
            "no default interpreter ($VIRTUAL_ENV or python3 on PATH)",
        )?]),
        Some("all") => {
            let (found, _) = pycache::interpreter::discover(&options);
            let (chosen, left_out) = pycache::interpreter::select_all(found, &options);
            if chosen.is_empty() {
                anyhow::bail!("--python all: no supported interpreter was found");
            }
            for skipped in left_out {
                crate::printer::note_line(&format!(
                    "--python all leaves out {} ({}): {}",
                    skipped.interpreter.display_name(),
                    skipped.interpreter.path().display(),
                    skipped.reason
                ));
            }
            Ok(chosen)
        }
        Some(text) => {
            let request: pycache::InterpreterRequest = text.parse()?;
            request
                .resolve(&options)
                .map_err(hint)
                .with_context(|| format!("--python {text}"))
        }
    }
}
