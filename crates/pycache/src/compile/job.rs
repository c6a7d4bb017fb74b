//! One stale job, on a compile thread: its source read, compiled by a worker of its
//! interpreter (`worker`, lent by `pool`), its pycs written as `py_compile` would (`write`),
//! and its code stored in the cache. Every way it can end is a [`FileReport`] (in a [`Ran`]);
//! a panic too.

use super::cached::CacheStage;
use super::plan::{InterpreterPlan, Job, Plan, SourceCell};
use super::pool::Pools;
use super::worker::{Reply, WorkerError};
use super::{CompileOptions, Failure, FileReport, Outcome, write};
use crate::freshness::SourceStat;
use crate::header::{HeaderLayout, InvalidationMode, PycHeader, mask_u32};
use crate::interpreter::Interpreter;
use crate::source_hash::source_hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What the compile threads share: the plan, the workers, the options and the cache.
pub(super) struct Runner {
    pub(super) plan: Plan,
    pub(super) pools: Pools,
    pub(super) options: CompileOptions,
    pub(super) cache: Option<CacheStage>,
    /// Per interpreter, set by the first worker that contradicts its probe: the failure every
    /// later job of that interpreter gets at once (the run probes it again afterwards).
    pub(super) contradicted: Vec<std::sync::OnceLock<Failure>>,
}

/// A job's end: its report, and what the remembered failures need to record it.
pub(super) struct Ran {
    pub(super) report: FileReport,
    pub(super) cell: Arc<SourceCell>,
    /// The name compiled into the code (part of a remembered failure's key).
    pub(super) name: Vec<u8>,
}

impl Ran {
    /// How `job` ended: compiled (with the warnings the interpreter printed) or not (why).
    pub(super) fn new(mut job: Job, ended: Result<String, Failure>) -> Self {
        let cell = Arc::clone(&job.cell);
        let name = std::mem::take(&mut job.name);
        let report = match ended {
            Ok(warnings) => job.report(Outcome::Compiled, warnings),
            Err(Failure::Interrupted) => job.report(Outcome::Interrupted, String::new()),
            Err(failure) => {
                let warnings = match &failure {
                    Failure::Rejected { warnings, .. } => warnings.clone(),
                    _ => String::new(),
                };
                job.report(Outcome::Failed(failure), warnings)
            }
        };
        Ran { report, cell, name }
    }
}

impl Runner {
    /// Compiles one job; a panic in it is reported as this file's failure.
    pub(super) fn run(&self, job: Job) -> Ran {
        let compiled = if self.options.cancel.load(Ordering::SeqCst) {
            Err(Failure::Interrupted)
        } else {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compile_job(&job)))
                .unwrap_or_else(|panic| {
                    Err(Failure::Panicked {
                        message: panic_message(&*panic),
                    })
                })
        };
        Ran::new(job, compiled)
    }

    /// Compiles and writes one job; the warnings the interpreter printed.
    fn compile_job(&self, job: &Job) -> Result<String, Failure> {
        let target = &self.plan.targets[job.target];
        let cell = &job.cell;
        #[cfg(test)]
        super::tests::panic_if_asked(cell.path());
        if job.cfiles.is_empty() {
            return Err(Failure::NoPycPath {
                message: job.notices.last().cloned().unwrap_or_default(),
            });
        }
        job.check_targets(self.plan.levels.len())?;
        let source = cell.bytes()?;
        let (code, warnings) = match self.compile_in_worker(job, &source)? {
            Reply::Compiled { code, warnings } => (code, warnings),
            Reply::Failed { message, warnings } => {
                return Err(Failure::Rejected { message, warnings });
            }
        };
        if self.options.cancel.load(Ordering::SeqCst) {
            return Err(Failure::Interrupted);
        }
        let code = if self.options.reproducible {
            canonical_payloads(&target.interpreter, code)?
        } else {
            code
        };
        let levels = self.plan.levels.len();
        write_pycs(target, levels, job, &source, &whole(&code), &self.options)?;
        if let Some(cache) = &self.cache
            && warnings.is_empty()
        {
            let digest = crate::cache::KeyParts::source_digest(&source);
            cache.store(target, &self.plan.levels, digest, &code);
        }
        Ok(warnings)
    }

    /// Runs the job in a worker of its interpreter; a worker that dies is replaced and the file
    /// retried once, a hung one is killed.
    fn compile_in_worker(&self, job: &Job, source: &[u8]) -> Result<Reply, Failure> {
        let target = &self.plan.targets[job.target];
        let interpreter = || target.interpreter.display_name();
        let contradicted = &self.contradicted[job.target];
        for attempt in 0..2 {
            if let Some(failure) = contradicted.get() {
                return Err(failure.clone());
            }
            let mut lease = match self.pools.acquire(job.target, &target.interpreter) {
                Ok(lease) => lease,
                Err(WorkerError::Interrupted) => return Err(Failure::Interrupted),
                Err(WorkerError::WrongMagic { found, expected }) => {
                    target.interpreter.forget_cached_probe();
                    let failure = Failure::ProbeOutOfDate {
                        interpreter: interpreter(),
                        found,
                        expected,
                    };
                    return Err(contradicted.get_or_init(|| failure).clone());
                }
                Err(error) => {
                    return Err(Failure::CannotStart {
                        interpreter: interpreter(),
                        reason: error.to_string(),
                    });
                }
            };
            let compiled =
                lease
                    .worker()
                    .compile(&self.plan.levels, &job.name, source, self.options.timeout);
            match compiled {
                Ok(reply) => {
                    lease.release();
                    return Ok(reply);
                }
                Err(WorkerError::Died(_)) if attempt == 0 => lease.discard(),
                Err(error) => {
                    lease.discard();
                    return Err(match error {
                        WorkerError::Interrupted => Failure::Interrupted,
                        WorkerError::Timeout(after) => Failure::TimedOut {
                            interpreter: interpreter(),
                            after,
                        },
                        other => Failure::WorkerLost {
                            interpreter: interpreter(),
                            reason: other.to_string(),
                        },
                    });
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }
}

/// The text of a panic's payload (a `&str` or a `String`, as `panic!` makes them).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a compile job panicked".to_owned())
}

/// The header `py_compile` would write for this source.
fn header_for(target: &InterpreterPlan, stat: SourceStat, source: &[u8]) -> PycHeader {
    let interpreter = &target.interpreter;
    let layout = interpreter.header_layout();
    match (target.mode, interpreter.source_hash_algorithm(), layout) {
        (InvalidationMode::Timestamp, _, _)
        | (_, None, _)
        | (_, _, HeaderLayout::MagicMtime | HeaderLayout::MagicMtimeSize) => PycHeader::timestamp(
            interpreter.magic(),
            layout,
            mask_u32(stat.mtime),
            stat.size as u32,
        ),
        (mode, Some(algorithm), HeaderLayout::Pep552) => PycHeader::hash_based(
            interpreter.magic(),
            mode == InvalidationMode::CheckedHash,
            source_hash(algorithm, interpreter.magic(), source),
        ),
    }
}

/// One level's marshalled code as its pyc holds it: pieces, written one after another (a
/// payload served from the cache is re-pointed in pieces, not copied).
pub(super) type Pieces<'a> = Vec<&'a [u8]>;

/// Payloads in one piece each.
pub(super) fn whole(code: &[Vec<u8>]) -> Vec<Pieces<'_>> {
    code.iter().map(|payload| vec![&payload[..]]).collect()
}

/// Writes `code` (one payload for each of the plan's `levels`) as `job`'s pycs, as
/// `py_compile` writes them: the header from the source's stat (or hash), the mode from the
/// source, atomically; with `--hardlink-dupes`, a level identical to the one before is a hard
/// link to it.
pub(super) fn write_pycs(
    target: &InterpreterPlan,
    levels: usize,
    job: &Job,
    source: &[u8],
    code: &[Pieces<'_>],
    options: &CompileOptions,
) -> Result<(), Failure> {
    let metadata = job.cell.metadata();
    let stat = metadata
        .map(SourceStat::from_metadata)
        .unwrap_or(SourceStat { mtime: 0, size: 0 });
    let header = header_for(target, stat, source).to_bytes();
    let mode = write::pyc_mode(metadata);
    for (index, (cfile, payload)) in job.cfiles.iter().zip(code).enumerate() {
        if index > 0
            && options.hardlink_dupes
            && same_bytes(&code[index - 1], payload)
            && job.cfiles[index - 1] != *cfile
        {
            write::hardlink(&job.cfiles[index - 1], cfile)?;
        } else {
            let missing = job.pyc_missing(levels, index);
            let parts: Pieces<'_> = std::iter::once(&header[..])
                .chain(payload.iter().copied())
                .collect();
            write::write_pyc(cfile, &parts, mode, missing)?;
        }
    }
    Ok(())
}

/// Whether `a` and `b`, each read piece after piece, are the same bytes.
fn same_bytes(a: &[&[u8]], b: &[&[u8]]) -> bool {
    match (a, b) {
        ([a], [b]) => a == b,
        _ => {
            let len = |pieces: &[&[u8]]| pieces.iter().map(|p| p.len()).sum::<usize>();
            len(a) == len(b) && a.iter().copied().flatten().eq(b.iter().copied().flatten())
        }
    }
}

/// `payloads` (marshalled code from `interpreter`) in canonical form; unchanged when the
/// interpreter's marshal format is not one [`crate::marshal`] knows.
fn canonical_payloads(
    interpreter: &Interpreter,
    payloads: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, Failure> {
    let Ok((format, _)) = crate::marshal::Format::for_magic(interpreter.magic()) else {
        return Ok(payloads);
    };
    payloads
        .iter()
        .map(|payload| crate::marshal::canonical(payload, format))
        .collect::<Result<_, _>>()
        .map_err(|e| Failure::BadMarshal {
            interpreter: interpreter.display_name(),
            reason: e.to_string(),
        })
}
