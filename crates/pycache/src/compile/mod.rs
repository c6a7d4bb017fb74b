//! The compile engine: `compileall` for one or many interpreters in one run.
//!
//! The work is split where each part is exact and cheap:
//! - Rust walks the tree once (`select`), stating each source and reading each expected pyc's
//!   header relative to its directory's descriptor, and decides freshness with each target
//!   interpreter's own import rules ([`crate::classify_pyc`]): a pyc is kept only when import
//!   would accept it *and* it has the invalidation mode asked for. A run where everything is
//!   fresh starts no Python.
//! - The real interpreter compiles (`compile(source, dfile, 'exec', dont_inherit=True,
//!   optimize=LEVEL)` then `marshal.dumps`), in long-lived worker processes (`worker`), at most
//!   `workers` of them across all interpreters, largest files first.
//! - Rust builds the header and writes each pyc atomically, as `py_compile` would (`write`).
//!
//! Jobs run on a [`concurrent_futures::ThreadPoolExecutor`]; the caller's thread follows them
//! with [`concurrent_futures::as_completed`] and reports each file as it finishes. A failing file
//! never stops the others; a worker that dies is replaced and its file retried once; a hung one
//! is killed after the per-file timeout.

mod cached;
mod dfile;
mod directory;
mod failure;
mod failures;
mod pool;
mod select;
mod worker;
mod write;

pub use cached::CacheCounts;
pub use dfile::{Dfile, DfileOptions, NothingLeft, dfile_for};
pub use directory::FileFacts;
pub use failure::Failure;
pub use select::{
    Candidate, Walk, WalkProblem, excluded, has_py_suffix, symlink_allowed, walk, walk_parallel,
};
pub(crate) use select::{
    Head, Lookup, Prefetch, PycacheListings, PycacheRead, basename, posix_join, walk_roots,
};

use crate::cache_path::{CacheScheme, legacy_cache_from_source};
use crate::freshness::{CheckHashBasedPycs, Freshness, ImportRules, SourceStat, classify_pyc};
use crate::header::{HeaderLayout, Invalidation, InvalidationMode, PycHeader, mask_u32};
use crate::interpreter::Interpreter;
use crate::parallel::parallel_map;
use crate::source_hash::source_hash;
use concurrent_futures::{Executor, Future, ThreadPoolExecutor, as_completed};
use pool::{Pools, open_files_cap};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use worker::{Reply, WorkerError};

/// What to compile and how: compileall's options, plus pycache's own.
#[derive(Debug, Clone)]
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
    /// `--pycache-prefix`: `Some(None)` forces none; `None` keeps each interpreter's.
    pub pycache_prefix: Option<Option<OsString>>,
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
            pycache_prefix: None,
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

/// One file, one interpreter.
#[derive(Debug, Clone)]
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
pub enum Event<'a> {
    /// Selection and freshness are decided: `stale` files will be compiled.
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

/// The largest source sent to a worker: a frame's length is a u32, and holds the source with
/// its name (up to `PATH_MAX`) and levels.
const MAX_SOURCE_BYTES: u64 = u32::MAX as u64 - 65_536;

/// The least time a worker gets to start and greet, whatever the per-file timeout.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Per-interpreter facts fixed for the run.
struct Target {
    interpreter: Interpreter,
    scheme: CacheScheme,
    rules: ImportRules,
    mode: InvalidationMode,
    max_levels: usize,
    roots: Vec<OsString>,
}

/// What a command derives from an interpreter and the selection options: its cache scheme
/// (with `--pycache-prefix` applied), the roots to walk (the targets, or `sys.path`) and how
/// deep (compileall's default for that interpreter, 0 for `sys.path`).
pub(crate) struct Scope {
    pub(crate) scheme: CacheScheme,
    pub(crate) roots: Vec<OsString>,
    pub(crate) max_levels: usize,
}

impl Scope {
    pub(crate) fn of(
        interpreter: &Interpreter,
        targets: &[OsString],
        max_levels: Option<usize>,
        pycache_prefix: Option<&Option<OsString>>,
    ) -> Self {
        let mut scheme = interpreter.cache_scheme();
        if let Some(prefix) = pycache_prefix {
            scheme = scheme.with_pycache_prefix(prefix.clone());
        }
        if targets.is_empty() {
            Scope {
                scheme,
                roots: sys_path_roots(interpreter),
                max_levels: 0,
            }
        } else {
            Scope {
                scheme,
                roots: targets.to_vec(),
                max_levels: max_levels.unwrap_or_else(|| default_max_levels(interpreter)),
            }
        }
    }
}

/// compileall's default recursion depth for `version`.
fn default_max_levels(interpreter: &Interpreter) -> usize {
    if interpreter.version().at_least(3, 9) {
        1000
    } else {
        10
    }
}

/// The roots compileall uses with no argument: `sys.path` as `python -m compileall` sees it,
/// where the first entry is the current directory from 3.7 on and skipped before; only
/// directories.
fn sys_path_roots(interpreter: &Interpreter) -> Vec<OsString> {
    let cwd = std::env::current_dir()
        .map(PathBuf::into_os_string)
        .unwrap_or_default();
    interpreter
        .sys_path()
        .into_iter()
        .map(PathBuf::into_os_string)
        .filter_map(|entry| {
            if entry.is_empty() || entry == "." {
                interpreter.version().at_least(3, 7).then(|| cwd.clone())
            } else {
                Some(entry)
            }
        })
        // compileall only prints "Can't list" for entries that are not directories (zip files,
        // paths that do not exist): they are not failures, so they are not walked at all.
        .filter(|entry| Path::new(entry).is_dir())
        .collect()
}

struct Job {
    target: usize,
    source: usize,
    candidate: Candidate,
    cfiles: Vec<PathBuf>,
    name: Vec<u8>,
    notices: Vec<String>,
    size: u64,
}

/// A source, shared by every interpreter: stat'ed by the walk, and fully only when compiled.
struct SourceCell {
    path: PathBuf,
    /// What the walk's stat said, which decides freshness.
    facts: Option<FileFacts>,
    /// The full stat of this source, made by whichever job needs it first. Boxed: a
    /// `Metadata` is some 150 bytes, and only stale sources are ever stat'ed again.
    stat: std::sync::OnceLock<Option<Box<std::fs::Metadata>>>,
}

impl SourceCell {
    fn metadata(&self) -> Option<&std::fs::Metadata> {
        self.stat
            .get_or_init(|| std::fs::metadata(&self.path).ok().map(Box::new))
            .as_deref()
    }

    /// The source's bytes, read when its job runs (and dropped when it ends, so memory stays
    /// flat however many files and interpreters there are). A source larger than the worker
    /// protocol carries is refused from its size, before anything is read.
    fn bytes(&self) -> Result<Vec<u8>, Failure> {
        use std::io::Read;
        let error = |e: std::io::Error| Failure::io(&self.path, e);
        let mut file = crate::regular_file::open(&self.path).map_err(error)?;
        let size = file.metadata().map_err(error)?.len();
        if size > MAX_SOURCE_BYTES {
            return Err(Failure::SourceTooLarge {
                path: self.path.clone(),
                size,
                limit: MAX_SOURCE_BYTES,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut data).map_err(error)?;
        if data.len() as u64 > MAX_SOURCE_BYTES {
            return Err(Failure::SourceGrew {
                path: self.path.clone(),
            });
        }
        Ok(data)
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

/// The header `py_compile` would write for this source.
fn header_for(target: &Target, stat: SourceStat, source: &[u8]) -> PycHeader {
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

/// Writes `code` (one payload per level) as `job`'s pycs, as `py_compile` writes them: the
/// header from the source's stat (or hash), the mode from the source, atomically; with
/// `--hardlink-dupes`, a level identical to the one before is a hard link to it.
fn write_pycs(
    target: &Target,
    job: &Job,
    cell: &SourceCell,
    source: &[u8],
    code: &[Vec<u8>],
    options: &CompileOptions,
) -> Result<(), Failure> {
    let metadata = cell.metadata();
    let stat = metadata
        .map(SourceStat::from_metadata)
        .unwrap_or(SourceStat { mtime: 0, size: 0 });
    let header = header_for(target, stat, source).to_bytes();
    let mode = write::pyc_mode(metadata);
    for (index, (cfile, payload)) in job.cfiles.iter().zip(code).enumerate() {
        if index > 0
            && options.hardlink_dupes
            && code[index - 1] == *payload
            && job.cfiles[index - 1] != *cfile
        {
            write::hardlink(&job.cfiles[index - 1], cfile)?;
        } else {
            write::write_pyc(cfile, &[&header, payload], mode)?;
        }
    }
    Ok(())
}

/// The first bytes of `cfile` (up to a header's length) into `out`; `None` when it cannot be
/// read or is not a regular file (a FIFO is never waited on).
fn read_header(cfile: &Path, out: &mut [u8]) -> Option<usize> {
    let mut file = crate::regular_file::open(cfile).ok()?;
    crate::regular_file::read_head(&mut file, out).ok()
}

/// True when every pyc would be accepted by import and has the invalidation mode asked for.
/// Headers come from the walk's `listings` where it read them, else from disk.
fn is_fresh(
    target: &Target,
    cfiles: &[PathBuf],
    stat: SourceStat,
    source: &Path,
    listings: &PycacheListings,
    verify: bool,
) -> bool {
    let layout = target.rules.layout;
    let hashes = target.interpreter.source_hash_algorithm().is_some();
    let mut source_bytes: Option<Vec<u8>> = None;
    for cfile in cfiles {
        let mut buf = [0u8; 16];
        let data: &[u8] = match listings.find(cfile.as_os_str().as_bytes()) {
            Lookup::Missing => return false,
            Lookup::Listed(_, _, file) if file.head.is_some() => {
                match file.head.as_ref().map(|head| head.header(layout.len())) {
                    Some(Ok(bytes)) => bytes,
                    _ => return false,
                }
            }
            _ => match read_header(cfile, &mut buf[..layout.len()]) {
                Some(len) => &buf[..len],
                None => return false,
            },
        };
        let mode_matches = match PycHeader::parse(data, layout).map(|h| h.invalidation) {
            Ok(Invalidation::Timestamp { .. }) => {
                target.mode == InvalidationMode::Timestamp || !hashes
            }
            Ok(Invalidation::Hash { checked: true, .. }) => {
                target.mode == InvalidationMode::CheckedHash
            }
            Ok(Invalidation::Hash { checked: false, .. }) => {
                target.mode == InvalidationMode::UncheckedHash
            }
            Err(_) => false,
        };
        if !mode_matches {
            return false;
        }
        let verdict = classify_pyc(&target.rules, data, stat, || {
            if source_bytes.is_none() {
                source_bytes = Some(std::fs::read(source)?);
            }
            Ok(source_bytes.clone().unwrap_or_default())
        });
        let verdict = if verify {
            crate::payload::verified(verdict, &target.rules, cfile)
        } else {
            verdict
        };
        if !matches!(verdict, Freshness::Fresh(_)) {
            return false;
        }
    }
    true
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
            write::write_pyc(cfile, &[&canonical], write::pyc_mode(source))?;
            changed = true;
        }
    }
    Ok(changed)
}

/// The end of the pyc names `scheme` gives a module's sources at `level`
/// (`.cpython-311.pyc`, `.cpython-311.opt-1.pyc`), when they live in the `__pycache__` beside
/// the source; `None` under a pycache prefix.
fn pyc_suffix(scheme: &CacheScheme, level: i8) -> Option<Vec<u8>> {
    let probe = scheme
        .cache_from_source(OsStr::new("/d/m.py"), optimization_for(level).as_deref())
        .ok()?;
    probe
        .as_bytes()
        .strip_prefix(b"/d/__pycache__/m".as_slice())
        .map(<[u8]>::to_vec)
}

/// Compiles `options.targets` (or `sys.path`) for every interpreter in `interpreters`,
/// calling `on_event` on the caller's thread as files finish.
pub fn compile(
    interpreters: &[Interpreter],
    options: &CompileOptions,
    mut on_event: impl FnMut(Event<'_>),
) -> CompileSummary {
    let start = Instant::now();
    let mut levels = options.levels.clone();
    levels.sort_unstable();
    levels.dedup();
    if levels.is_empty() {
        levels.push(-1);
    }
    let default_mode = options
        .invalidation_mode
        .unwrap_or_else(InvalidationMode::default_from_env);
    let targets: Vec<Target> = interpreters
        .iter()
        .map(|interpreter| {
            let scope = Scope::of(
                interpreter,
                &options.targets,
                options.max_levels,
                options.pycache_prefix.as_ref(),
            );
            Target {
                rules: interpreter.import_rules(CheckHashBasedPycs::Always),
                mode: if interpreter.source_hash_algorithm().is_some() {
                    default_mode
                } else {
                    InvalidationMode::Timestamp
                },
                max_levels: scope.max_levels,
                roots: scope.roots,
                interpreter: interpreter.clone(),
                scheme: scope.scheme,
            }
        })
        .collect();
    let mut summary = CompileSummary {
        interpreters: vec![InterpreterSummary::default(); targets.len()],
        ..CompileSummary::default()
    };

    // One walk per distinct root, as deep as the deepest interpreter needs.
    let plan: Vec<(&[OsString], usize)> = targets
        .iter()
        .map(|t| (&t.roots[..], t.max_levels))
        .collect();
    // The walk stats every source and reads the headers of the pycs any target would use, with
    // each directory held open (see `directory`).
    let suffixes: Vec<Vec<u8>> = if options.legacy || options.force {
        Vec::new()
    } else {
        targets
            .iter()
            .flat_map(|t| levels.iter().map(|&level| pyc_suffix(&t.scheme, level)))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    };
    let is_source = |name: &[u8]| name.ends_with(b".py");
    let prefetch = Prefetch {
        stat_sources: true,
        pycache: if suffixes.is_empty() {
            PycacheRead::Skip
        } else {
            PycacheRead::Probe(&suffixes)
        },
        keep_files: Some(&is_source),
    };
    let mut walks = walk_roots(&plan, options.workers.clamp(1, 8), &prefetch);
    for walked in walks.values() {
        for problem in &walked.problems {
            on_event(Event::Problem(problem));
            summary.problems.push(problem.clone());
        }
    }

    // Freshness, decided in Rust from what the walk read: this is all a no-op run does.
    let listings = PycacheListings::take_from(walks.values_mut());
    // One cell per source for all interpreters (a source met under two roots gets two).
    let mut sources: Vec<Arc<SourceCell>> = Vec::new();
    let mut cell_of: HashMap<&OsString, Vec<usize>> = HashMap::new();
    let mut pairs: Vec<(usize, &OsString, &Candidate, usize)> = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        for root in &target.roots {
            let candidates = &walks[root].candidates;
            let cells = cell_of
                .entry(root)
                .or_insert_with(|| vec![usize::MAX; candidates.len()]);
            for (i, candidate) in candidates.iter().enumerate() {
                if candidate.depth() > target.max_levels || !has_py_suffix(&candidate.path) {
                    continue;
                }
                if cells[i] == usize::MAX {
                    cells[i] = sources.len();
                    sources.push(Arc::new(SourceCell {
                        path: PathBuf::from(&candidate.path),
                        facts: candidate.facts,
                        stat: std::sync::OnceLock::new(),
                    }));
                }
                pairs.push((t, root, candidate, cells[i]));
            }
        }
    }
    let threads = options.workers.clamp(1, 8);
    let planned = parallel_map(&pairs, threads, |&(t, root, candidate, source)| {
        let job = plan_job(t, &targets[t], root, candidate, source, &levels, options)?;
        let cell = &sources[source];
        let facts = cell
            .facts
            .or_else(|| cell.metadata().map(FileFacts::from_metadata))?;
        if !facts.is_file() {
            return None; // compileall's isfile(): FIFOs, dangling links and the like are skipped
        }
        let fresh = !options.force
            && is_fresh(
                &targets[t],
                &job.cfiles,
                facts.source_stat(),
                &cell.path,
                &listings,
                options.verify,
            );
        let canonicalized = (fresh && options.reproducible)
            .then(|| canonicalize_in_place(&job.cfiles, cell.metadata()));
        Some((job, fresh, facts.size, canonicalized))
    });
    drop(pairs);
    let mut stale: Vec<Job> = Vec::new();
    let mut fresh_reports = Vec::new();
    for (mut job, fresh, size, canonicalized) in planned.into_iter().flatten() {
        if fresh {
            fresh_reports.push(FileReport {
                interpreter: job.target,
                source: job.candidate.path,
                pycs: job.cfiles,
                outcome: match canonicalized {
                    None | Some(Ok(false)) => Outcome::Fresh,
                    Some(Ok(true)) => Outcome::Canonicalized,
                    Some(Err(message)) => Outcome::Failed(message),
                },
                warnings: String::new(),
                notices: job.notices,
            });
        } else {
            job.size = size;
            stale.push(job);
        }
    }

    // Files that failed last time, unchanged since, fail again without starting Python.
    let mut failures = (!stale.is_empty()).then(failures::Failures::load);
    let mut remembered_reports = Vec::new();
    let mut keys: HashMap<(usize, OsString), (failures::Key, usize)> = HashMap::new();
    if let Some(failures) = &failures {
        let mut dispatched = Vec::with_capacity(stale.len());
        for job in stale {
            let cell = &sources[job.source];
            let key = failures::Key::new(
                &targets[job.target].interpreter,
                &cell.path,
                &job.name,
                &levels,
            );
            let remembered = cell
                .metadata()
                .filter(|_| !options.force)
                .and_then(|metadata| failures.lookup(&key, metadata));
            match remembered {
                Some((message, warnings)) => remembered_reports.push(FileReport {
                    interpreter: job.target,
                    source: job.candidate.path.clone(),
                    pycs: job.cfiles.clone(),
                    outcome: Outcome::Failed(Failure::Rejected {
                        message: message.to_owned(),
                        warnings: warnings.to_owned(),
                    }),
                    warnings: warnings.to_owned(),
                    notices: job.notices.clone(),
                }),
                None => {
                    keys.insert((job.target, job.candidate.path.clone()), (key, job.source));
                    dispatched.push(job);
                }
            }
        }
        stale = dispatched;
    }
    on_event(Event::Planned {
        stale: stale.len() + remembered_reports.len(),
        fresh: fresh_reports.len(),
    });
    for report in &fresh_reports {
        summary.interpreters[report.interpreter].count(&report.outcome);
        on_event(Event::File(report));
    }
    for report in &remembered_reports {
        summary.interpreters[report.interpreter].failed += 1;
        on_event(Event::File(report));
    }
    for counts in &mut summary.interpreters {
        counts.elapsed = start.elapsed();
    }
    if stale.is_empty() {
        if let Some(failures) = failures {
            failures.save();
        }
        return summary;
    }

    // What was compiled before is written from the cache; only the rest goes to the workers.
    let mut cache_warnings = Vec::new();
    let cache = cached::CacheStage::open(&options.cache, options.reproducible, &mut cache_warnings);
    if let Some(cache) = &cache {
        let context = Context {
            targets: &targets,
            sources: &sources,
            levels: &levels,
            options,
        };
        let served;
        (served, stale) = cached::serve(cache, &context, stale, &mut cache_warnings);
        for warning in cache_warnings.drain(..) {
            on_event(Event::Warning(&warning));
        }
        for report in &served {
            let counts = &mut summary.interpreters[report.interpreter];
            counts.count(&report.outcome);
            counts.elapsed = start.elapsed();
            on_event(Event::File(report));
        }
    }
    if stale.is_empty() {
        if let Some(cache) = &cache {
            summary.cache = Some(cache.finish(&mut cache_warnings));
        }
        for warning in &cache_warnings {
            on_event(Event::Warning(warning));
        }
        if let Some(failures) = failures {
            failures.save();
        }
        summary.interrupted = options.cancel.load(Ordering::SeqCst);
        return summary;
    }

    // One interpreter after another, largest files first within each: workers are started once
    // per interpreter (not once per file, as interleaving interpreters would force), and no
    // worker is left holding one big file at the end.
    stale.sort_by(|a, b| a.target.cmp(&b.target).then(b.size.cmp(&a.size)));
    let workers = options
        .workers
        .max(1)
        .min(open_files_cap())
        .min(stale.len());
    let shared = Arc::new(Shared {
        targets,
        sources,
        levels,
        // Start-up (importing what compileall imports) gets its own allowance, bounded even
        // when files may take for ever.
        pools: Pools::new(
            workers,
            options
                .timeout
                .map_or(STARTUP_TIMEOUT, |t| t.max(STARTUP_TIMEOUT)),
            Arc::clone(&options.cancel),
            options.reproducible,
        ),
        options: options.clone(),
        cache,
    });
    // Twice as many threads as worker processes: while one thread writes a file's pycs, another
    // already feeds that worker its next file, so no interpreter waits on Rust's I/O.
    let executor = ThreadPoolExecutor::builder()
        .max_workers(workers * 2)
        .thread_name_prefix("pycache-compile")
        .build()
        .expect("at least one worker");
    let futures: Vec<Future<FileReport>> = stale
        .into_iter()
        .map(|job| {
            let shared = Arc::clone(&shared);
            executor
                .submit(move || shared.run(job))
                .expect("the executor is running")
        })
        .collect();
    for done in as_completed(futures, None) {
        let Ok(future) = done else { continue };
        let report = match future.result(None) {
            Ok(report) => report,
            Err(error) => FileReport {
                interpreter: 0,
                source: OsString::new(),
                pycs: Vec::new(),
                outcome: Outcome::Failed(Failure::Panicked {
                    message: error.to_string(),
                }),
                warnings: String::new(),
                notices: Vec::new(),
            },
        };
        if let Some(failures) = &mut failures
            && let Some((key, source)) = keys.remove(&(report.interpreter, report.source.clone()))
        {
            // The stat made for freshness is the one the failure is remembered against.
            match (&report.outcome, shared.sources[source].metadata()) {
                (Outcome::Failed(Failure::Rejected { message, warnings }), Some(metadata)) => {
                    failures.record(key, metadata, message, warnings);
                }
                (Outcome::Compiled, _) => failures.forget(&key),
                _ => {}
            }
        }
        let counts = &mut summary.interpreters[report.interpreter];
        counts.count(&report.outcome);
        counts.elapsed = start.elapsed();
        on_event(Event::File(&report));
    }
    executor.shutdown(true, false);
    shared.pools.close_all();
    if let Some(cache) = &shared.cache {
        summary.cache = Some(cache.finish(&mut cache_warnings));
    }
    for warning in &cache_warnings {
        on_event(Event::Warning(warning));
    }
    if let Some(failures) = failures {
        failures.save();
    }
    summary.interrupted = options.cancel.load(Ordering::SeqCst);
    summary
}

fn plan_job(
    t: usize,
    target: &Target,
    root: &OsString,
    candidate: &Candidate,
    source: usize,
    levels: &[i8],
    options: &CompileOptions,
) -> Option<Job> {
    if excluded(
        &candidate.path,
        options.exclude.as_ref(),
        options.limit_symlinks.as_deref(),
    ) {
        return None;
    }
    let mut notices = Vec::new();
    let name = match dfile_for(
        target.interpreter.version(),
        candidate,
        root,
        &options.dfile,
    ) {
        Ok(dfile) => {
            notices.extend(dfile.warning.clone());
            dfile::compiled_name(&dfile, candidate).as_bytes().to_vec()
        }
        Err(error) => {
            notices.push(error.to_string());
            candidate.path.as_bytes().to_vec()
        }
    };
    let cfiles: Result<Vec<PathBuf>, _> = levels
        .iter()
        .map(|&level| {
            if options.legacy {
                Ok(PathBuf::from(legacy_cache_from_source(&candidate.path)))
            } else {
                target
                    .scheme
                    .cache_from_source(&candidate.path, optimization_for(level).as_deref())
                    .map(PathBuf::from)
            }
        })
        .collect();
    let cfiles = match cfiles {
        Ok(cfiles) => cfiles,
        Err(error) => {
            notices.push(format!("{}: {error}", error.python_exception()));
            Vec::new()
        }
    };
    Some(Job {
        target: t,
        source,
        candidate: candidate.clone(),
        cfiles,
        name,
        notices,
        size: 0,
    })
}

struct Shared {
    targets: Vec<Target>,
    sources: Vec<Arc<SourceCell>>,
    levels: Vec<i8>,
    pools: Pools,
    options: CompileOptions,
    cache: Option<cached::CacheStage>,
}

/// What the stages after planning read: the targets, the sources, the levels and the options.
struct Context<'a> {
    targets: &'a [Target],
    sources: &'a [Arc<SourceCell>],
    levels: &'a [i8],
    options: &'a CompileOptions,
}

impl Shared {
    /// Compiles one job; a panic in it is reported as this file's failure.
    fn run(&self, job: Job) -> FileReport {
        let cell = Arc::clone(&self.sources[job.source]);
        let compiled = if self.options.cancel.load(Ordering::SeqCst) {
            Err(Failure::Interrupted)
        } else {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.compile_job(&job, &cell)
            }))
            .unwrap_or_else(|panic| {
                Err(Failure::Panicked {
                    message: panic_message(&*panic),
                })
            })
        };
        let (outcome, warnings) = match compiled {
            Ok(warnings) => (Outcome::Compiled, warnings),
            Err(Failure::Interrupted) => (Outcome::Interrupted, String::new()),
            Err(failure) => {
                let warnings = match &failure {
                    Failure::Rejected { warnings, .. } => warnings.clone(),
                    _ => String::new(),
                };
                (Outcome::Failed(failure), warnings)
            }
        };
        FileReport {
            interpreter: job.target,
            source: job.candidate.path,
            pycs: job.cfiles,
            outcome,
            warnings,
            notices: job.notices,
        }
    }

    /// Compiles and writes one job; the warnings the interpreter printed.
    fn compile_job(&self, job: &Job, cell: &SourceCell) -> Result<String, Failure> {
        let target = &self.targets[job.target];
        #[cfg(test)]
        tests::panic_if_asked(&cell.path);
        if job.cfiles.is_empty() {
            return Err(Failure::NoPycPath {
                message: job.notices.last().cloned().unwrap_or_default(),
            });
        }
        for cfile in &job.cfiles {
            write::check_target(cfile)?;
        }
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
        write_pycs(target, job, cell, &source, &code, &self.options)?;
        if let Some(cache) = &self.cache
            && warnings.is_empty()
        {
            let digest = crate::cache::KeyParts::source_digest(&source);
            cache.store(target, &self.levels, digest, &code);
        }
        Ok(warnings)
    }

    /// Runs the job in a worker of its interpreter; a worker that dies is replaced and the file
    /// retried once, a hung one is killed.
    fn compile_in_worker(&self, job: &Job, source: &[u8]) -> Result<Reply, Failure> {
        let target = &self.targets[job.target];
        let interpreter = || target.interpreter.display_name();
        for attempt in 0..2 {
            let mut lease = match self.pools.acquire(job.target, &target.interpreter) {
                Ok(lease) => lease,
                Err(WorkerError::Interrupted) => return Err(Failure::Interrupted),
                Err(error @ WorkerError::WrongMagic { .. }) => {
                    target.interpreter.forget_cached_probe();
                    return Err(Failure::CannotStart {
                        interpreter: interpreter(),
                        reason: format!(
                            "{error}: the cached probe was out of date and is dropped; run again"
                        ),
                    });
                }
                Err(error) => {
                    return Err(Failure::CannotStart {
                        interpreter: interpreter(),
                        reason: error.to_string(),
                    });
                }
            };
            match lease
                .worker()
                .compile(&self.levels, &job.name, source, self.options.timeout)
            {
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

#[cfg(test)]
mod tests;
