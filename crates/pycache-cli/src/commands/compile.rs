//! `pycache compile`: turns compileall's flags into [`pycache::compile::CompileOptions`], runs
//! the engine and prints as compileall does (errors on stderr, the rest on stdout).

use super::{Status, resolve_interpreters};
use crate::cli::{CompileArgs, SelectArgs};
use crate::printer::Printer;
use anyhow::{Context, bail};
use pycache::Interpreter;
use pycache::compile::{CompileOptions, DfileOptions, Event, Outcome, compile};
use pycache::python_str::repr;
use serde_json::json;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
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
    pub(crate) exclude: Option<fancy_regex::Regex>,
    pub(crate) levels: Vec<i8>,
    pub(crate) pycache_prefix: Option<Option<OsString>>,
}

pub(crate) fn selection(args: &SelectArgs) -> anyhow::Result<Selection> {
    let exclude = args
        .exclude
        .as_deref()
        .map(fancy_regex::Regex::new)
        .transpose()
        .context("-x: not a valid regular expression")?;
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
        pycache_prefix: args
            .pycache_prefix
            .clone()
            .map(|p| Some(p).filter(|p| !p.is_empty())),
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
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Ok(CompileOptions {
        targets: selection.targets,
        max_levels: selection.max_levels,
        force: args.force,
        verify: args.verify,
        legacy: args.select.legacy,
        dfile: DfileOptions {
            ddir: args.ddir.clone(),
            stripdir: args.stripdir.clone(),
            prependdir: args.prependdir.clone(),
        },
        exclude: selection.exclude,
        limit_symlinks: args
            .limit_symlinks
            .clone()
            .filter(|d| !d.is_empty())
            .map(Into::into),
        workers: match args.workers {
            None | Some(0) => cores,
            Some(n) => n,
        },
        levels: selection.levels,
        invalidation_mode: args.invalidation_mode.map(Into::into),
        hardlink_dupes: args.hardlink_dupes,
        pycache_prefix: selection.pycache_prefix,
        timeout: (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout)),
        cancel: Arc::new(AtomicBool::new(false)),
    })
}

/// The interpreters of `--python` (each request once; `all` keeps those with a cache tag
/// unless `legacy`), or the default one.
pub(crate) fn interpreters(requests: &[String], legacy: bool) -> anyhow::Result<Vec<Interpreter>> {
    if requests.is_empty() {
        return resolve_interpreters(None);
    }
    let mut all: Vec<Interpreter> = Vec::new();
    for request in requests {
        for interpreter in resolve_interpreters(Some(request))? {
            // `all` means every interpreter that has a __pycache__ (not Python 2).
            let cannot_cache = interpreter.cache_tag().is_none() && !legacy;
            if request == "all" && cannot_cache {
                continue;
            }
            if !all.iter().any(|i| i.path() == interpreter.path()) {
                all.push(interpreter);
            }
        }
    }
    Ok(all)
}

/// This process's peak resident set size (pycache itself, not its workers).
fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
        usage.ru_maxrss
    } else {
        -1
    }
}

pub(crate) fn run(args: &CompileArgs) -> anyhow::Result<Status> {
    let mut options = options(args)?;
    let interpreters = interpreters(&args.select.python, args.select.legacy)?;
    for interpreter in &interpreters {
        if interpreter.cache_tag().is_none() && !options.legacy {
            bail!(
                "{} ({}) has no cache tag (sys.implementation.cache_tag is None): it cannot write __pycache__; use -b",
                interpreter.path().display(),
                interpreter.display_name()
            );
        }
    }
    options.cancel = install_interrupt_handler()?;
    let many = interpreters.len() > 1;
    let label = |index: usize| {
        if many {
            format!(" ({})", interpreters[index].display_name())
        } else {
            String::new()
        }
    };
    let mut printer = Printer::new();
    let show_progress =
        args.quiet == 0 && !args.json && !args.verbose && std::io::stdout().is_terminal();
    let mut progress: Option<indicatif::ProgressBar> = None;
    let mut failures = Vec::new();
    let mut io_error: Option<std::io::Error> = None;
    let summary = compile(&interpreters, &options, |event| {
        let result: std::io::Result<()> = (|| {
            match event {
                Event::Planned { stale, .. } => {
                    if show_progress && stale > 0 {
                        let bar = indicatif::ProgressBar::with_draw_target(
                            Some(stale as u64),
                            indicatif::ProgressDrawTarget::stdout(),
                        );
                        bar.set_style(
                            indicatif::ProgressStyle::with_template(
                                "{bar:40} {pos}/{len} {wide_msg}",
                            )
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                        );
                        progress = Some(bar);
                    }
                }
                Event::Problem(problem) => {
                    if args.quiet < 2 {
                        printer.error(&super::problem_text(problem))?;
                    }
                }
                Event::File(report) => {
                    if args.quiet < 2 {
                        for notice in &report.notices {
                            printer.line(notice)?;
                        }
                    }
                    if report.outcome != Outcome::Fresh {
                        if let Some(bar) = &progress {
                            bar.inc(1);
                            bar.set_message(report.source.to_string_lossy().into_owned());
                        }
                        if args.verbose && args.quiet == 0 {
                            printer.line(&format!(
                                "Compiling {}{}...",
                                repr(report.source.as_bytes()),
                                label(report.interpreter)
                            ))?;
                        }
                    }
                    if !report.warnings.is_empty() && args.quiet < 2 {
                        printer.flush()?;
                        std::io::stderr().write_all(report.warnings.as_bytes())?;
                    }
                    if let Outcome::Failed(message) = &report.outcome {
                        if args.quiet < 2 {
                            printer.flush()?;
                            let mut stderr = std::io::stderr().lock();
                            if let Some(bar) = &progress {
                                bar.suspend(|| ())
                            }
                            writeln!(
                                stderr,
                                "*** Error compiling {}{}...\n{}",
                                repr(report.source.as_bytes()),
                                label(report.interpreter),
                                message.trim_end_matches('\n')
                            )?;
                        }
                        failures.push(json!({
                            "interpreter": interpreters[report.interpreter].display_name(),
                            "source": report.source.to_string_lossy(),
                            "message": message,
                        }));
                    }
                }
            }
            Ok(())
        })();
        if let Err(error) = result {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                options.cancel.store(true, Ordering::SeqCst);
            }
            io_error.get_or_insert(error);
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(error) = io_error {
        return Err(error.into());
    }
    if args.json {
        let per: Vec<_> = summary
            .interpreters
            .iter()
            .zip(&interpreters)
            .map(|(s, i)| {
                json!({
                    "interpreter": i.display_name(),
                    "path": i.path().to_string_lossy(),
                    "cache_tag": i.cache_tag(),
                    "compiled": s.compiled,
                    "fresh": s.fresh,
                    "failed": s.failed,
                    "interrupted": s.interrupted,
                    "seconds": s.elapsed.as_secs_f64(),
                })
            })
            .collect();
        let problems = super::problems_json(&summary.problems);
        printer.json(&json!({
            "success": summary.success(),
            "peak_rss_kib": peak_rss_kib(),
            "interrupted": summary.interrupted,
            "interpreters": per,
            "failures": failures,
            "problems": problems,
        }))?;
    } else if args.quiet == 0 {
        for (s, i) in summary.interpreters.iter().zip(&interpreters) {
            let mut line = format!(
                "{}: {} compiled, {} fresh, {} failed",
                i.display_name(),
                s.compiled,
                s.fresh,
                s.failed
            );
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
            printer.line(&line)?;
        }
    }
    printer.flush()?;
    if summary.interrupted {
        if args.quiet < 2 {
            crate::printer::error_line("[interrupted]");
        }
        return Ok(Status::Interrupted);
    }
    Ok(Status::of(summary.success()))
}
