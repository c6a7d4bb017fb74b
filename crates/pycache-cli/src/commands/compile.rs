//! `pycache compile`: turns compileall's flags into [`pycache::compile::CompileOptions`], runs
//! the engine and prints as compileall does (errors on stderr, the rest on stdout).

use super::{Status, resolve_interpreters};
use crate::cli::{CacheArgs, CompileArgs, SelectArgs};
use crate::printer::Printer;
use anyhow::{Context, bail};
use pycache::Interpreter;
use pycache::compile::{
    CodeCacheOptions, CompileOptions, CompileSummary, DfileOptions, Event, FileReport, Outcome,
    PrefixSetting, compile,
};
use pycache::python_str::repr;
use pycache::walk::WalkProblem;
use serde::Serialize;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first SIGINT or SIGTERM asks the engine to stop cleanly (nothing new starts, busy
/// workers are killed, every pyc is whole or untouched); a second one ends the process at once
/// with the signal's default action, whatever the engine is doing.
fn install_interrupt_handler() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&flag))
            .context("cannot handle signals")?;
        signal_hook::flag::register(signal, Arc::clone(&flag)).context("cannot handle signals")?;
    }
    Ok(flag)
}

/// compileall's `-i`: names one per line, stripped, appended after the positional arguments.
fn read_input_list(list: &OsString) -> anyhow::Result<Vec<OsString>> {
    let lines: Vec<Vec<u8>> = if list == "-" {
        std::io::stdin()
            .lock()
            .split(b'\n')
            .collect::<Result<_, _>>()
    } else {
        std::fs::read(list).map(|data| data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect())
    }
    .with_context(|| format!("Error reading file list {}", list.to_string_lossy()))?;
    let mut names: Vec<OsString> = lines
        .into_iter()
        .map(|line| OsString::from_vec(line.trim_ascii().to_vec()))
        .collect();
    if list != "-" && names.last().is_some_and(|n| n.is_empty()) {
        names.pop(); // the newline at the end of the file
    }
    Ok(names)
}

/// The selection flags, checked: targets (with `-i`), depth, `-x`, levels.
pub(crate) struct Selection {
    pub(crate) targets: Vec<OsString>,
    pub(crate) max_levels: Option<usize>,
    pub(crate) exclude: Option<pycache::exclude::Exclude>,
    pub(crate) levels: Vec<i8>,
    pub(crate) pycache_prefix: PrefixSetting,
}

pub(crate) fn selection(args: &SelectArgs) -> anyhow::Result<Selection> {
    let exclude = args
        .exclude
        .as_deref()
        .map(pycache::exclude::Exclude::new)
        .transpose()
        .map_err(|e| crate::UsageError(format!("-x: not a valid regular expression: {e}")))?;
    let mut targets = args.targets.clone();
    if let Some(list) = &args.input_list {
        targets.extend(read_input_list(list)?);
    }
    let mut levels = args.levels.clone();
    levels.sort_unstable();
    levels.dedup();
    Ok(Selection {
        targets,
        max_levels: args.recursion.or(args.no_recursion.then_some(0)),
        exclude,
        levels: if levels.is_empty() { vec![-1] } else { levels },
        pycache_prefix: match &args.pycache_prefix {
            None => PrefixSetting::Interpreter,
            Some(dir) if dir.is_empty() => PrefixSetting::Off,
            Some(dir) => PrefixSetting::Dir(dir.clone()),
        },
    })
}

fn options(args: &CompileArgs) -> anyhow::Result<CompileOptions> {
    if args.ddir.is_some() && (args.stripdir.is_some() || args.prependdir.is_some()) {
        bail!("-d cannot be used in combination with -s or -p");
    }
    let selection = selection(&args.select)?;
    if args.hardlink_dupes && selection.levels.len() < 2 {
        bail!(
            "Hardlinking of duplicated bytecode makes sense only for more than one optimization level."
        );
    }
    let mut options = CompileOptions::default();
    options.targets = selection.targets;
    options.max_levels = selection.max_levels;
    options.force = args.force;
    options.verify = args.verify;
    options.legacy = args.select.legacy;
    options.dfile = DfileOptions {
        ddir: args.ddir.clone(),
        stripdir: args.stripdir.clone(),
        prependdir: args.prependdir.clone(),
    };
    options.exclude = selection.exclude;
    options.limit_symlinks = args
        .limit_symlinks
        .clone()
        .filter(|d| !d.is_empty())
        .map(Into::into);
    if let Some(n) = args.workers.filter(|&n| n > 0) {
        options.workers = n; // the default is one per core
    }
    options.levels = selection.levels;
    options.invalidation_mode = args.invalidation_mode.map(Into::into);
    options.hardlink_dupes = args.hardlink_dupes;
    options.pycache_prefix = selection.pycache_prefix;
    options.timeout = (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout));
    // SOURCE_DATE_EPOCH already means "a reproducible build".
    options.reproducible = args.reproducible || std::env::var_os("SOURCE_DATE_EPOCH").is_some();
    options.cache = cache_options(&args.cache);
    Ok(options)
}

/// The cache of compiled code: on unless `--no-cache` or `PYCACHE_NO_CACHE` (not empty or 0);
/// the remote from `--remote` or `PYCACHE_REMOTE`.
fn cache_options(args: &CacheArgs) -> CodeCacheOptions {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let flag = |name: &str| env(name).is_some_and(|v| v != "0");
    let mut options = CodeCacheOptions::local();
    options.enabled = !args.no_cache && !flag("PYCACHE_NO_CACHE");
    options.dir = args.cache_dir.clone().map(Into::into);
    options.max_size = args.cache_max_size.as_u64();
    options.remote = args.remote.clone().or_else(|| env("PYCACHE_REMOTE"));
    options.remote_read_only = args.remote_read_only || flag("PYCACHE_REMOTE_READ_ONLY");
    options
}

/// The interpreters of `--python` (each request once; see [`resolve_interpreters`] for `all`),
/// or the default one.
pub(crate) fn interpreters(requests: &[String]) -> anyhow::Result<Vec<Interpreter>> {
    if requests.is_empty() {
        return resolve_interpreters(None);
    }
    let mut all: Vec<Interpreter> = Vec::new();
    for request in requests {
        for interpreter in resolve_interpreters(Some(request))? {
            if !all.iter().any(|i| i.path() == interpreter.path()) {
                all.push(interpreter);
            }
        }
    }
    Ok(all)
}

/// This process's peak resident set size (pycache itself, not its workers), in KiB: the
/// kernel's `VmHWM`, which is what `getrusage`'s `ru_maxrss` reports (read from `/proc`, since
/// rustix has no `getrusage`); -1 if it cannot be read.
fn peak_rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or(-1)
}

/// The progress bar of a run: on stderr, with the elapsed time and an estimate of what is left.
fn progress_bar(stale: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(stale as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} [{elapsed_precise}, {eta} left] {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// What `-q`, `-qq`, `-v`, `--json` and the terminal let through, decided once for the run.
#[derive(Debug, Clone, Copy)]
struct Shown {
    /// Errors, warnings, compileall's notices and the interpreters' warnings (not `-qq`).
    errors: bool,
    /// compileall's `Compiling ...` lines (`-v` without `-q`).
    compiling: bool,
    /// The summary lines (no `-q`, no `--json`).
    summary: bool,
    /// The progress bar (no `-q`, `--json` or `-v`, and stderr a terminal).
    progress: bool,
}

impl Shown {
    fn of(args: &CompileArgs) -> Self {
        let quiet = args.quiet;
        Shown {
            errors: quiet < 2,
            compiling: args.verbose && quiet == 0,
            summary: quiet == 0 && !args.json,
            progress: quiet == 0 && !args.json && !args.verbose && std::io::stderr().is_terminal(),
        }
    }
}

/// A failure in `--json`'s `failures`: where, for which pyc and level, and (for a
/// `SyntaxError`) the line and column.
#[derive(Debug, Serialize)]
struct FailureJson {
    interpreter: String,
    source: serde_json::Value,
    pyc: Option<serde_json::Value>,
    optimization: Option<i64>,
    exception: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
    message: String,
}

impl FailureJson {
    /// The first level is the one that failed: the worker stops at the first error.
    fn of(report: &FileReport, message: &str, interpreter: &Interpreter, levels: &[i8]) -> Self {
        let optimization = levels.first().map(|&level| {
            if level < 0 {
                i64::from(interpreter.optimize_flag())
            } else {
                i64::from(level)
            }
        });
        let location = super::syntax_error::locate(message, std::path::Path::new(&report.source));
        FailureJson {
            interpreter: interpreter.display_name(),
            source: crate::json_path::path(&report.source),
            pyc: report.pycs.first().map(crate::json_path::path),
            optimization,
            exception: location.exception,
            line: location.line,
            column: location.column,
            message: crate::printer::plain(message),
        }
    }
}

/// A walk problem in JSON, as every command gives it.
#[derive(Debug, Serialize)]
struct ProblemJson {
    kind: &'static str,
    path: serde_json::Value,
    reason: String,
}

/// A walk problem in JSON, as every command gives it.
pub(crate) fn problem_json(problem: &WalkProblem) -> serde_json::Value {
    let problem = match problem {
        WalkProblem::Missing(path) => ProblemJson {
            kind: "missing",
            path: crate::json_path::path(path),
            reason: "No such file or directory".to_owned(),
        },
        WalkProblem::CantList(dir, why) => ProblemJson {
            kind: "cannot-list",
            path: crate::json_path::path(dir),
            reason: crate::printer::plain(why),
        },
    };
    serde_json::to_value(problem).unwrap_or_default()
}

/// One interpreter's counts in `--json`.
#[derive(Debug, Serialize)]
struct InterpreterJson {
    interpreter: String,
    path: serde_json::Value,
    cache_tag: Option<String>,
    compiled: usize,
    cached: usize,
    remote: usize,
    fresh: usize,
    canonicalized: usize,
    failed: usize,
    interrupted: usize,
    seconds: f64,
}

/// `pycache compile --json` (see docs/json.md; the printer adds `version`).
#[derive(Debug, Serialize)]
struct CompileJson {
    ok: bool,
    peak_rss_kib: i64,
    interrupted: bool,
    interpreters: Vec<InterpreterJson>,
    failures: Vec<FailureJson>,
    problems: Vec<serde_json::Value>,
}

/// What a run prints as it goes, and the failures it keeps for `--json`.
struct Reporter<'a> {
    printer: Printer,
    shown: Shown,
    interpreters: &'a [Interpreter],
    levels: Vec<i8>,
    failures: Vec<FailureJson>,
}

impl Reporter<'_> {
    /// ` (cpython-3.12)` after a file's name when several interpreters run.
    fn label(&self, index: usize) -> String {
        if self.interpreters.len() > 1 {
            format!(" ({})", self.interpreters[index].display_name())
        } else {
            String::new()
        }
    }

    /// Prints what one engine event says (errors on stderr, notices and `-v` lines on stdout).
    fn on_event(&mut self, event: Event<'_>) -> std::io::Result<()> {
        match event {
            Event::Planned { stale, .. } if self.shown.progress && stale > 0 => {
                self.printer.start_progress(progress_bar(stale));
            }
            Event::Warning(warning) if self.shown.errors => self.printer.warning(warning)?,
            Event::Problem(problem) if self.shown.errors => {
                let message = match problem {
                    WalkProblem::Missing(path) => {
                        format!("{}: No such file or directory", repr(path.as_bytes()))
                    }
                    WalkProblem::CantList(dir, why) => {
                        format!("Can't list {}: {why}", repr(dir.as_bytes()))
                    }
                };
                self.printer.error(&message)?;
            }
            Event::File(report) => self.on_file(report)?,
            _ => {}
        }
        Ok(())
    }

    fn on_file(&mut self, report: &FileReport) -> std::io::Result<()> {
        if self.shown.errors {
            for notice in &report.notices {
                self.printer.line(notice)?;
            }
        }
        if !matches!(report.outcome, Outcome::Fresh | Outcome::Canonicalized) {
            if let Some(bar) = self.printer.progress() {
                bar.inc(1);
                bar.set_message(report.source.to_string_lossy().into_owned());
            }
            if self.shown.compiling {
                let line = format!(
                    "Compiling {}{}...",
                    repr(report.source.as_bytes()),
                    self.label(report.interpreter)
                );
                self.printer.line(&line)?;
            }
        }
        if !report.warnings.is_empty() && self.shown.errors {
            self.printer.stderr(report.warnings.as_bytes())?;
        }
        if let Outcome::Failed(failure) = &report.outcome {
            let message = failure.to_string();
            if self.shown.errors {
                let text = format!(
                    "*** Error compiling {}{}...\n{}\n",
                    repr(report.source.as_bytes()),
                    self.label(report.interpreter),
                    crate::printer::plain(message.trim_end_matches('\n'))
                );
                self.printer.stderr(text.as_bytes())?;
            }
            let interpreter = &self.interpreters[report.interpreter];
            let json = FailureJson::of(report, &message, interpreter, &self.levels);
            self.failures.push(json);
        }
        Ok(())
    }

    /// `--json`: the whole run in one document.
    fn json(&mut self, summary: &CompileSummary) -> std::io::Result<()> {
        let interpreters = summary
            .interpreters
            .iter()
            .zip(self.interpreters)
            .map(|(s, i)| InterpreterJson {
                interpreter: i.display_name(),
                path: crate::json_path::path(i.path()),
                cache_tag: i.cache_tag().map(Into::into),
                compiled: s.compiled,
                cached: s.cached,
                remote: s.remote,
                fresh: s.fresh,
                canonicalized: s.canonicalized,
                failed: s.failed,
                interrupted: s.interrupted,
                seconds: s.elapsed.as_secs_f64(),
            })
            .collect();
        let document = CompileJson {
            ok: summary.success(),
            peak_rss_kib: peak_rss_kib(),
            interrupted: summary.interrupted,
            interpreters,
            failures: std::mem::take(&mut self.failures),
            problems: super::problems_json(&summary.problems),
        };
        let value = serde_json::to_value(document).map_err(std::io::Error::other)?;
        self.printer.json(&value)
    }

    /// One summary line per interpreter, as compileall's own count would read.
    fn summary(
        &mut self,
        summary: &CompileSummary,
        cache: &CodeCacheOptions,
    ) -> std::io::Result<()> {
        for (s, i) in summary.interpreters.iter().zip(self.interpreters) {
            let mut line = format!(
                "{}: source files: {} compiled, ",
                i.display_name(),
                s.compiled
            );
            if cache.enabled {
                line.push_str(&format!("{} from cache, ", s.cached));
            }
            if cache.remote.is_some() {
                line.push_str(&format!("{} from remote, ", s.remote));
            }
            line.push_str(&format!("{} fresh, {} failed", s.fresh, s.failed));
            if s.canonicalized > 0 {
                line.push_str(&format!(", {} canonicalized", s.canonicalized));
            }
            if s.interrupted > 0 {
                line.push_str(&format!(", {} interrupted", s.interrupted));
            }
            // Paths that could not be read fail the run: the summary says so.
            match summary.problems.len() {
                0 => {}
                1 => line.push_str(", 1 path unreadable"),
                n => line.push_str(&format!(", {n} paths unreadable")),
            }
            line.push_str(&format!(" in {:.2}s", s.elapsed.as_secs_f64()));
            self.printer.line(&line)?;
        }
        Ok(())
    }
}

/// The interpreters of the run, each able to write what is asked (`-b` or a cache tag).
fn checked_interpreters(args: &CompileArgs, legacy: bool) -> anyhow::Result<Vec<Interpreter>> {
    let interpreters = interpreters(&args.select.python)?;
    for interpreter in &interpreters {
        if interpreter.cache_tag().is_none() && !legacy {
            bail!(
                "{} ({}) has no cache tag (sys.implementation.cache_tag is None): it cannot write __pycache__; use -b",
                interpreter.path().display(),
                interpreter.display_name()
            );
        }
    }
    Ok(interpreters)
}

pub(crate) fn run(args: &CompileArgs) -> anyhow::Result<Status> {
    let shown = Shown::of(args);
    if args.quiet > 0 {
        crate::printer::silence_notes();
    }
    let mut options = options(args)?;
    let interpreters = checked_interpreters(args, options.legacy)?;
    options.cancel = install_interrupt_handler()?;
    let mut reporter = Reporter {
        printer: Printer::new(),
        shown,
        interpreters: &interpreters,
        levels: options.levels.clone(),
        failures: Vec::new(),
    };
    let mut io_error: Option<std::io::Error> = None;
    let summary = compile(&interpreters, &options, |event| {
        if let Err(error) = reporter.on_event(event) {
            options.cancel.store(true, Ordering::SeqCst);
            io_error.get_or_insert(error);
        }
    });
    reporter.printer.finish_progress();
    if let Some(error) = io_error {
        return Err(error.into());
    }
    if args.json {
        reporter.json(&summary)?;
    } else if shown.summary {
        reporter.summary(&summary, &options.cache)?;
    }
    reporter.printer.flush()?;
    super::report_exclude_failure(options.exclude.as_ref());
    if summary.interrupted {
        if shown.errors {
            reporter.printer.error("interrupted")?;
        }
        return Ok(Status::Interrupted);
    }
    Ok(Status::of(summary.success()))
}
