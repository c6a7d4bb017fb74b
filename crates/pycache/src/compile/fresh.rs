//! The freshness stage: which jobs have nothing to do. A job is fresh when every pyc would be
//! accepted by its interpreter's import *and* has the invalidation mode asked for (the
//! decision itself is [`is_fresh`]'s); this is all a no-op run does, and it never starts
//! Python. With `--reproducible`, a fresh pyc that is not in canonical form is rewritten so.

use super::plan::{Found, Job, Plan, job};
use super::{CompileOptions, Failure, FileReport, Outcome, is_fresh, write};
use crate::parallel::Pool;
use std::path::PathBuf;

/// Where a job stands after the freshness stage.
pub(super) enum Decided {
    /// Nothing to compile: its report (fresh, canonicalized, or failed to canonicalize).
    Fresh(FileReport),
    /// To compile.
    Stale(Job),
}

/// Found sources decided at a time: the reports and jobs of one chunk are all that is held
/// besides the stale jobs, so memory does not grow with the fresh files.
const CHUNK: usize = 1_024;

/// Plans and decides every found source on `threads` threads, in the walk's order: each
/// fresh file's report goes to `on_fresh` as soon as its chunk is decided; the stale jobs
/// are returned.
pub(super) fn decide_all(
    plan: &Plan,
    found: &[Found],
    options: &CompileOptions,
    mut on_fresh: impl FnMut(FileReport),
) -> Vec<Job> {
    let pool = Pool::new(options.workers.clamp(1, 8));
    let mut stale = Vec::new();
    for chunk in found.chunks(CHUNK) {
        let decided = pool.map(chunk, |found| {
            let job = job(plan, found, options)?;
            decide(plan, job, options)
        });
        for decided in decided.into_iter().flatten() {
            match decided {
                Decided::Fresh(report) => on_fresh(report),
                Decided::Stale(job) => stale.push(job),
            }
        }
    }
    stale
}

/// Fresh or stale; `None` when the source is not a regular file (compileall's `isfile()`:
/// FIFOs, dangling links and the like are skipped).
fn decide(plan: &Plan, job: Job, options: &CompileOptions) -> Option<Decided> {
    let cell = &job.cell;
    if cell.candidate.unstated {
        // A regular file none of whose pycs exists: stale whatever its stat, which is made
        // when it is read (its size for the schedule then too, or just before the schedule).
        return Some(Decided::Stale(job));
    }
    let facts = cell.facts()?;
    if !facts.is_file() {
        return None;
    }
    let fresh = !options.force
        && is_fresh(
            &plan.targets[job.target],
            &job.cfiles,
            facts.source_stat(),
            cell.path(),
            job.prefetched(plan.levels.len()),
            options.verify,
        );
    if !fresh {
        return Some(Decided::Stale(job));
    }
    let outcome = if options.reproducible {
        match canonicalize_in_place(&job.cfiles, cell.metadata()) {
            Ok(false) => Outcome::Fresh,
            Ok(true) => Outcome::Canonicalized,
            Err(failure) => Outcome::Failed(failure),
        }
    } else {
        Outcome::Fresh
    };
    Some(Decided::Fresh(job.report(outcome, String::new())))
}

/// Rewrites (atomically) each of the fresh pycs `cfiles` that is not in canonical form; true
/// when any was. A pyc whose format is unknown is left alone.
fn canonicalize_in_place(
    cfiles: &[PathBuf],
    source: Option<&std::fs::Metadata>,
) -> Result<bool, Failure> {
    let mut changed = false;
    for cfile in cfiles {
        let data = std::fs::read(cfile).map_err(|e| Failure::NotCanonicalized {
            path: cfile.clone(),
            reason: e.to_string(),
        })?;
        let Ok(pyc) = crate::marshal::Pyc::split(&data) else {
            continue;
        };
        let canonical = pyc.canonical().map_err(|e| Failure::NotCanonicalized {
            path: cfile.clone(),
            reason: format!("bad code object: {e}"),
        })?;
        if canonical != data {
            write::write_pyc(cfile, &[&canonical], write::pyc_mode(source), false)?;
            changed = true;
        }
    }
    Ok(changed)
}
