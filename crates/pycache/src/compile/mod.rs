//! The compile engine: `compileall` for one or many interpreters in one run.
//!
//! The work is split where each part is exact and cheap:
//! - Rust walks the tree once ([`crate::walk`]), stating each source that has a pyc and reading
//!   each expected pyc's header relative to its directory's descriptor (a source none of whose
//!   pycs is there is stale without a stat), and decides freshness with each target
//!   interpreter's own import rules ([`crate::classify_pyc`]): a pyc is kept only when import
//!   would accept it *and* it has the invalidation mode asked for. A run where everything is
//!   fresh starts no Python.
//! - The real interpreter compiles (`compile(source, dfile, 'exec', dont_inherit=True,
//!   optimize=LEVEL)` then `marshal.dumps`), in long-lived worker processes (`worker`), at most
//!   `workers` of them across all interpreters, largest files first.
//! - Rust builds the header and writes each pyc atomically, as `py_compile` would (`write`).
//!
//! [`compile`] runs stages, one module each, each with its own input and output types:
//!
//! | stage | module | in | out |
//! |---|---|---|---|
//! | plan | `plan` | options, interpreters | `Plan` (per-interpreter `InterpreterPlan`), the walk, a `SourceCell` per source, one `Job` per interpreter and source |
//! | freshness | `fresh` | `Job` | `Decided::Fresh(FileReport)` or `Decided::Stale(Job)` |
//! | remembered failures | `failures` | stale `Job`s | reports of files that failed unchanged, the rest |
//! | cache | `cached` | stale `Job`s | reports of files served from the cache, the rest |
//! | schedule, collect | `schedule` (each job run by `job`) | stale `Job`s | a `FileReport` each |
//!
//! Every stage streams: fresh files are reported chunk by chunk as they are decided, files
//! served from the cache as they are written, and jobs are submitted to the compile threads a
//! few at a time; what is held for the whole run is one `SourceCell` per source and one `Job`
//! per stale file (some 700 bytes per file in all: a million-file tree compiles in well under
//! 1 GB, see `bench/memory_per_file.sh` and `bench/million_files.sh`).
//!
//! Every way a file can fail is a [`Failure`], which renders compileall's text. Jobs run on a
//! [`concurrent_futures::ThreadPoolExecutor`], a window of them at a time; the caller's thread
//! follows them with [`concurrent_futures::wait`] (`FIRST_COMPLETED`), reports each file as it
//! finishes and submits the next. A failing file
//! never stops the others (a panicking job included); a worker that dies is replaced and its
//! file retried once; a hung one is killed after the per-file timeout.

mod cached;
mod dfile;
mod failure;
mod failures;
mod fresh;
mod job;
mod plan;
mod pool;
mod schedule;
mod worker;
mod write;

pub use cached::CacheCounts;
pub use dfile::{Dfile, DfileOptions, NothingLeft, dfile_for};
pub use failure::Failure;

use crate::cache_path::CacheScheme;
use crate::freshness::{PycHead, SourceStat, judge};
use crate::header::{Invalidation, InvalidationMode, PycHeader};
use crate::interpreter::Interpreter;
use crate::walk::WalkProblem;
use plan::InterpreterPlan;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Which `sys.pycache_prefix` a run uses (`--pycache-prefix`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PrefixSetting {
    /// Each interpreter's own (from `PYTHONPYCACHEPREFIX`, as it was probed).
    #[default]
    Interpreter,
    /// None, whatever the interpreters say (`--pycache-prefix ''`).
    Off,
    /// This directory, for every interpreter (ignored before 3.8, which has no prefix).
    Dir(OsString),
}

impl PrefixSetting {
    /// `scheme` with this setting applied.
    pub fn apply(&self, scheme: CacheScheme) -> CacheScheme {
        match self {
            PrefixSetting::Interpreter => scheme,
            PrefixSetting::Off => scheme.with_pycache_prefix(None),
            PrefixSetting::Dir(dir) => scheme.with_pycache_prefix(Some(dir.clone())),
        }
    }
}

/// What to compile and how: compileall's options, plus pycache's own. Made with
/// [`Default`] and then fields set, so that a new option breaks no caller:
///
/// ```
/// let mut options = pycache::compile::CompileOptions::default();
/// options.targets = vec!["src".into()];
/// options.force = true;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CompileOptions {
    /// Files and directories (`FILE|DIR...`); empty means each interpreter's `sys.path`.
    pub targets: Vec<OsString>,
    /// `-l` (0) or `-r N`; `None` is compileall's default for each interpreter.
    pub max_levels: Option<usize>,
    /// `-f`: compile even fresh files.
    pub force: bool,
    /// `--verify`: a pyc whose header says fresh is read whole, and compiled again when its
    /// payload does not parse (see [`crate::payload`]).
    pub verify: bool,
    /// `-b`: legacy `X.pyc` beside `X.py`.
    pub legacy: bool,
    /// `-d`, `-s`, `-p`.
    pub dfile: DfileOptions,
    /// `-x`: skip files whose full path this (Python-syntax) regex finds a match in.
    pub exclude: Option<crate::exclude::Exclude>,
    /// `-e`: skip symlinked files whose target is outside this directory.
    pub limit_symlinks: Option<PathBuf>,
    /// `-j`: the most worker processes across all interpreters.
    pub workers: usize,
    /// `-o`: optimization levels (-1 = the interpreter's own). Sorted and de-duplicated here.
    pub levels: Vec<i8>,
    /// `--invalidation-mode`; `None` follows `SOURCE_DATE_EPOCH` as `py_compile` does.
    pub invalidation_mode: Option<InvalidationMode>,
    /// `--hardlink-dupes`.
    pub hardlink_dupes: bool,
    /// `--pycache-prefix`.
    pub pycache_prefix: PrefixSetting,
    /// Per-file (and start-up) timeout; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Set (e.g. from a SIGINT handler) to stop: nothing new starts, nothing is left half done.
    pub cancel: Arc<AtomicBool>,
    /// `--reproducible`: workers run with `PYTHONHASHSEED=0` (before 3.11 it orders frozenset
    /// constants) and, on PyPy, compile each file in a child forked from a pristine worker
    /// (PyPy's interned strings follow the process's history); every pyc is written in the
    /// canonical form ([`crate::marshal::canonical`]), and a fresh pyc that is not canonical is
    /// canonicalized in place, without Python.
    pub reproducible: bool,
    /// The cache of compiled code (off unless enabled).
    pub cache: CodeCacheOptions,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            targets: Vec::new(),
            max_levels: None,
            force: false,
            verify: false,
            legacy: false,
            dfile: DfileOptions::default(),
            exclude: None,
            limit_symlinks: None,
            workers: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            levels: vec![-1],
            invalidation_mode: None,
            hardlink_dupes: false,
            pycache_prefix: PrefixSetting::Interpreter,
            timeout: Some(Duration::from_secs(60)),
            cancel: Arc::new(AtomicBool::new(false)),
            reproducible: false,
            cache: CodeCacheOptions::default(),
        }
    }
}

/// Where compiled code is cached (see [`crate::cache`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodeCacheOptions {
    /// Look up and store compiled code at all.
    pub enabled: bool,
    /// The local cache directory; `None` is [`crate::cache::default_dir`].
    pub dir: Option<PathBuf>,
    /// The local cache's size cap, kept by evicting the least recently used entries.
    pub max_size: u64,
    /// The remote cache's URL (`redis://`, `s3://`, `webdav+http://`, `ghac://`).
    pub remote: Option<String>,
    /// Read from the remote, never write to it.
    pub remote_read_only: bool,
    /// The longest a remote request may take.
    pub remote_timeout: Duration,
}

impl Default for CodeCacheOptions {
    fn default() -> Self {
        CodeCacheOptions {
            enabled: false,
            dir: None,
            max_size: crate::cache::DEFAULT_MAX_SIZE,
            remote: None,
            remote_read_only: false,
            remote_timeout: Duration::from_secs(10),
        }
    }
}

impl CodeCacheOptions {
    /// The local cache at its default place, no remote.
    pub fn local() -> Self {
        CodeCacheOptions {
            enabled: true,
            ..CodeCacheOptions::default()
        }
    }
}

/// How one file ended for one interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Compiled and written.
    Compiled,
    /// Its pycs were fresh; nothing was done.
    Fresh,
    /// Written from the local cache of compiled code: no interpreter ran.
    FromCache,
    /// Written from the remote cache of compiled code (and stored locally).
    FromRemote,
    /// Its pycs were fresh but not canonical (`reproducible`): rewritten in canonical form.
    Canonicalized,
    /// It could not be compiled or written; the failure renders why, as compileall would.
    Failed(Failure),
    /// Not done: the run was interrupted first.
    Interrupted,
}

impl Outcome {
    /// True when a worker contradicted its interpreter's probe (the run probes it again).
    fn is_probe_out_of_date(&self) -> bool {
        matches!(self, Outcome::Failed(Failure::ProbeOutOfDate { .. }))
    }
}

/// One file, one interpreter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileReport {
    /// Index of the interpreter in the list given to [`compile`].
    pub interpreter: usize,
    /// The source path as walked.
    pub source: OsString,
    /// The pycs (one per level).
    pub pycs: Vec<PathBuf>,
    /// What happened.
    pub outcome: Outcome,
    /// Warnings the interpreter printed while compiling (SyntaxWarning, ...).
    pub warnings: String,
    /// compileall's own notices (3.13's "stripdir is not a valid prefix").
    pub notices: Vec<String>,
}

/// What [`compile`] tells its caller as it goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Selection and freshness are decided: `stale` files will be compiled. Told after the
    /// fresh files' reports (which are told as they are decided) and before any other file's.
    Planned {
        /// Jobs to compile.
        stale: usize,
        /// Jobs already fresh.
        fresh: usize,
    },
    /// A file is done (fresh, compiled, failed or interrupted).
    File(&'a FileReport),
    /// A missing path or a directory that could not be listed.
    Problem(&'a WalkProblem),
    /// Something the run could do without (a remote cache that failed): said once, not fatal.
    Warning(&'a str),
}

/// Counts for one interpreter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InterpreterSummary {
    /// Files compiled.
    pub compiled: usize,
    /// Files written from the local cache of compiled code.
    pub cached: usize,
    /// Files written from the remote cache of compiled code.
    pub remote: usize,
    /// Files already fresh.
    pub fresh: usize,
    /// Fresh files whose pycs were rewritten in canonical form (`reproducible`).
    pub canonicalized: usize,
    /// Files that failed.
    pub failed: usize,
    /// Files not done because the run was interrupted.
    pub interrupted: usize,
    /// From the start of the run to this interpreter's last file.
    pub elapsed: Duration,
}

impl InterpreterSummary {
    /// Counts one file's outcome.
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Compiled => self.compiled += 1,
            Outcome::FromCache => self.cached += 1,
            Outcome::FromRemote => self.remote += 1,
            Outcome::Fresh => self.fresh += 1,
            Outcome::Canonicalized => self.canonicalized += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Interrupted => self.interrupted += 1,
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CompileSummary {
    /// Per interpreter, in the order given.
    pub interpreters: Vec<InterpreterSummary>,
    /// Missing paths and unlistable directories.
    pub problems: Vec<WalkProblem>,
    /// True when the run was interrupted.
    pub interrupted: bool,
    /// What the cache of compiled code gave, when it was on and consulted.
    pub cache: Option<CacheCounts>,
}

impl CompileSummary {
    /// True when every file compiled or was fresh and every path could be read (a missing
    /// path or a directory that cannot be listed is a failure).
    pub fn success(&self) -> bool {
        !self.interrupted
            && self
                .interpreters
                .iter()
                .all(|s| s.failed == 0 && s.interrupted == 0)
            && self.problems.is_empty()
    }
}

/// The optimization argument `cache_from_source` gets for a `-o` level.
pub(crate) fn optimization_for(level: i8) -> Option<String> {
    match level {
        l if l < 0 => None,
        0 => Some(String::new()),
        l => Some(l.to_string()),
    }
}

/// True when every pyc would be accepted by import and has the invalidation mode asked for.
/// Headers come from the walk's `listings` where it read them, else from disk.
fn is_fresh(
    target: &InterpreterPlan,
    cfiles: &[PathBuf],
    stat: SourceStat,
    source: &Path,
    prefetched: Option<&[PycHead]>,
    verify: bool,
) -> bool {
    let mut source_bytes: Option<Vec<u8>> = None;
    for (level, cfile) in cfiles.iter().enumerate() {
        let read_now;
        let head = match prefetched.and_then(|heads| heads.get(level)) {
            Some(head) => head,
            None => {
                read_now = PycHead::read_path(cfile);
                &read_now
            }
        };
        if !has_mode(target, head) {
            return false;
        }
        let read_source = || {
            if source_bytes.is_none() {
                source_bytes = Some(std::fs::read(source)?);
            }
            Ok(source_bytes.clone().unwrap_or_default())
        };
        if !judge(&target.rules, cfile, Some(head), stat, read_source, verify).is_fresh() {
            return false;
        }
    }
    true
}

/// True when the header in `head` has the invalidation mode `target` writes.
fn has_mode(target: &InterpreterPlan, head: &PycHead) -> bool {
    let hashes = target.interpreter.source_hash_algorithm().is_some();
    let Ok(data) = head.header(target.rules.layout.len()) else {
        return false;
    };
    match PycHeader::parse(data, target.rules.layout).map(|h| h.invalidation) {
        Ok(Invalidation::Timestamp { .. }) => target.mode == InvalidationMode::Timestamp || !hashes,
        Ok(Invalidation::Hash { checked: true, .. }) => {
            target.mode == InvalidationMode::CheckedHash
        }
        Ok(Invalidation::Hash { checked: false, .. }) => {
            target.mode == InvalidationMode::UncheckedHash
        }
        Err(_) => false,
    }
}

/// Compiles `options.targets` (or `sys.path`) for every interpreter in `interpreters`,
/// calling `on_event` on the caller's thread as files finish.
///
/// The run is a sequence of stages, each in its own module: plan (`plan`: the walk and one
/// job per interpreter and source) -> freshness (`fresh`) -> remembered failures
/// (`failures`) -> the cache of compiled code (`cached`) -> schedule and collect
/// (`schedule`, running each job as `job` says). When a worker contradicts an interpreter's
/// cached probe (a wrapper script now runs another Python), the interpreter is probed again
/// and its files go through the stages once more with what the fresh probe says.
pub fn compile(
    interpreters: &[Interpreter],
    options: &CompileOptions,
    on_event: impl FnMut(Event<'_>),
) -> CompileSummary {
    let mut tally = Tally::new(interpreters.len(), on_event);
    let held = run(interpreters, options, &mut tally, true);
    let mut again = Vec::new();
    for t in held.iter().map(|r| r.interpreter) {
        if !again.iter().any(|(seen, _)| *seen == t)
            && let Ok(fresh) = Interpreter::probe(interpreters[t].path())
        {
            again.push((t, fresh));
        }
    }
    for report in held
        .iter()
        .filter(|r| !again.iter().any(|(t, _)| *t == r.interpreter))
    {
        tally.file(report);
    }
    if !again.is_empty() {
        let (indices, fresh): (Vec<usize>, Vec<Interpreter>) = again.into_iter().unzip();
        for &t in &indices {
            tally.summary.interpreters[t] = InterpreterSummary::default();
        }
        tally.map = indices;
        run(&fresh, options, &mut tally, false);
    }
    tally.summary
}

/// One pass of the stages over `interpreters`; the reports held back because a worker
/// contradicted its interpreter's probe (when `hold_back`).
fn run(
    interpreters: &[Interpreter],
    options: &CompileOptions,
    tally: &mut Tally<impl FnMut(Event<'_>)>,
    hold_back: bool,
) -> Vec<FileReport> {
    let plan = plan::Plan::new(interpreters, options);
    let walked = plan::walk(&plan, options);
    for problem in walked.problems() {
        tally.problem(problem);
    }
    let found = plan::found(&walked, &plan);
    let mut fresh = 0;
    let stale = fresh::decide_all(&plan, &found, options, |report| {
        fresh += 1;
        tally.file(&report);
    });
    // Only the stale jobs (and the sources they share) are held from here on. With nothing
    // to compile, freeing what the walk found is the last thing a run would wait for, so
    // another thread does it (a thread more while workers start could cost one of them its
    // process under a limit).
    if stale.is_empty() {
        drop_in_background((found, walked));
    } else {
        drop((found, walked));
    }
    let (mut remembered, remembered_reports, stale) =
        failures::Remembered::consult(&plan, stale, options.force);
    tally.planned(stale.len() + remembered_reports.len(), fresh);
    for report in &remembered_reports {
        tally.file(report);
    }
    if stale.is_empty() {
        remembered.save();
        return Vec::new();
    }
    let (cache, stale) = cache_stage(&plan, stale, options, tally);
    let (runner, held);
    let cache = if stale.is_empty() {
        held = Vec::new();
        cache.as_ref()
    } else {
        let scheduled = schedule::schedule(plan, stale, options, cache);
        (runner, held) = schedule::collect(scheduled, &mut remembered, tally, hold_back);
        runner.cache.as_ref()
    };
    if let Some(cache) = cache {
        let mut warnings = Vec::new();
        tally.summary.cache = Some(cache.finish(&mut warnings));
        for warning in &warnings {
            tally.warning(warning);
        }
    }
    remembered.save();
    tally.summary.interrupted = options.cancel.load(Ordering::SeqCst);
    held
}

/// Frees `value` on a thread of its own, or here if no thread can start (`spawn` then drops
/// the closure, and `value` with it).
fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().spawn(move || drop(value));
}

/// The cache stage: what was compiled before is written from the cache; only the rest goes
/// on to the workers.
fn cache_stage(
    plan: &plan::Plan,
    stale: Vec<plan::Job>,
    options: &CompileOptions,
    tally: &mut Tally<impl FnMut(Event<'_>)>,
) -> (Option<cached::CacheStage>, Vec<plan::Job>) {
    let mut warnings = Vec::new();
    let cache = cached::CacheStage::open(&options.cache, options.reproducible, &mut warnings);
    let Some(cache) = cache else {
        for warning in &warnings {
            tally.warning(warning);
        }
        return (None, stale);
    };
    let context = Context {
        targets: &plan.targets,
        levels: &plan.levels,
        options,
    };
    let stale = cached::serve(&cache, &context, stale, &mut warnings, |report| {
        tally.file(&report);
    });
    for warning in &warnings {
        tally.warning(warning);
    }
    (Some(cache), stale)
}

/// What the stages after planning read: the targets, the levels and the options.
struct Context<'a> {
    targets: &'a [plan::InterpreterPlan],
    levels: &'a [i8],
    options: &'a CompileOptions,
}

/// The summary of a run as it goes, and the caller's `on_event`: each report is counted and
/// told in one place.
struct Tally<F> {
    summary: CompileSummary,
    start: Instant,
    on_event: F,
    /// Empty on the first pass; on a pass over interpreters probed again, the index in the
    /// caller's list of each interpreter of the pass (whose walk and plan were told already).
    map: Vec<usize>,
}

impl<F: FnMut(Event<'_>)> Tally<F> {
    fn new(interpreters: usize, on_event: F) -> Self {
        Tally {
            summary: CompileSummary {
                interpreters: vec![InterpreterSummary::default(); interpreters],
                ..CompileSummary::default()
            },
            start: Instant::now(),
            on_event,
            map: Vec::new(),
        }
    }

    fn problem(&mut self, problem: &WalkProblem) {
        if !self.map.is_empty() {
            return;
        }
        (self.on_event)(Event::Problem(problem));
        self.summary.problems.push(problem.clone());
    }

    /// Selection and freshness are decided; every interpreter's clock reads this moment until
    /// its next file.
    fn planned(&mut self, stale: usize, fresh: usize) {
        if self.map.is_empty() {
            (self.on_event)(Event::Planned { stale, fresh });
        }
        for counts in &mut self.summary.interpreters {
            counts.elapsed = self.start.elapsed();
        }
    }

    fn file(&mut self, report: &FileReport) {
        let Some(&interpreter) = self.map.get(report.interpreter) else {
            return self.told(report);
        };
        let mut report = report.clone();
        report.interpreter = interpreter;
        self.told(&report);
    }

    fn told(&mut self, report: &FileReport) {
        let counts = &mut self.summary.interpreters[report.interpreter];
        counts.count(&report.outcome);
        counts.elapsed = self.start.elapsed();
        (self.on_event)(Event::File(report));
    }

    fn warning(&mut self, warning: &str) {
        (self.on_event)(Event::Warning(warning));
    }
}

#[cfg(test)]
mod tests;
