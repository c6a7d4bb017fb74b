//! Cache hygiene: what is fresh, stale, missing or useless in a tree, without starting Python.
//!
//! [`scan`] walks like `pycache compile` (same selection) and reports, for every source and
//! selected interpreter, what that interpreter's import would decide about its pyc, plus the
//! debris import never uses: orphans (a pyc in `__pycache__` whose source is gone), legacy pycs
//! beside a source, sourceless legacy pycs (importable on their own), pycs of tags no selected
//! interpreter has, leftovers of interrupted atomic writes and unreadable pycs.
//! [`plan_clean`] turns a scan into the list of files `pycache clean` removes; [`remove`] removes
//! them. Nothing here ever follows a symlink out of the tree or removes anything that is not a
//! pyc, a pycache temporary file or an empty `__pycache__`.

mod clean;

pub use clean::{CleanOptions, Removal, RemovalReport, TEMP_FILE_GRACE, plan_clean, remove};

use crate::cache_path::{CacheScheme, legacy_cache_from_source};
use crate::compile::optimization_for;
use crate::freshness::{CheckHashBasedPycs, Freshness, ImportRules, PycHead, StaleReason, judge};
use crate::interpreter::Interpreter;
use crate::parallel::parallel_map;
use crate::walk::{
    Candidate, FileFacts, Lookup, Prefetch, PycacheListings, PycacheRead, Scope, Walk, WalkOptions,
    WalkProblem, WalkRoot, basename, excluded, has_py_suffix, posix_join, walk,
};
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What to scan: `pycache compile`'s selection options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ScanOptions {
    /// Files and directories; empty means each interpreter's `sys.path` (top level only).
    pub targets: Vec<OsString>,
    /// `-l` (0) or `-r N`; `None` is compileall's default per interpreter.
    pub max_levels: Option<usize>,
    /// `-x`.
    pub exclude: Option<crate::exclude::Exclude>,
    /// `-b`: the expected pycs are legacy `X.pyc` beside `X.py`.
    pub legacy: bool,
    /// `-o` levels; empty means the interpreter's own (-1).
    pub levels: Vec<i8>,
    /// `--pycache-prefix`.
    pub pycache_prefix: crate::compile::PrefixSetting,
    /// How import treats hash-based pycs.
    pub check_hash_based_pycs: CheckHashBasedPycs,
    /// Threads for the file-system passes.
    pub threads: usize,
    /// Read each fresh pyc whole and call it stale (`corrupt`) when its payload does not parse.
    /// A caller that reads every fresh pyc itself (`check --reproducible`) can leave it off.
    pub verify_payloads: bool,
}

/// One thing the scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Import would use this pyc.
    Fresh {
        /// The source.
        source: PathBuf,
        /// Its pyc.
        pyc: PathBuf,
        /// Index of the interpreter.
        interpreter: usize,
    },
    /// Import would not use this pyc (or there is none).
    Stale {
        /// The source.
        source: PathBuf,
        /// Its pyc (which may not exist: [`StaleReason::Missing`]).
        pyc: PathBuf,
        /// Index of the interpreter.
        interpreter: usize,
        /// Why.
        reason: StaleReason,
    },
    /// A pyc in `__pycache__` whose source is gone; import never uses it.
    Orphan {
        /// The pyc.
        pyc: PathBuf,
    },
    /// `foo.pyc` beside `foo.py`: import prefers the source, so it is dead weight.
    LegacyWithSource {
        /// The legacy pyc.
        pyc: PathBuf,
    },
    /// `foo.pyc` with no `foo.py`: importable on its own (a deleted module lives on).
    SourcelessLegacy {
        /// The legacy pyc.
        pyc: PathBuf,
    },
    /// A pyc whose cache tag no selected interpreter has.
    OtherTag {
        /// The pyc.
        pyc: PathBuf,
        /// Its tag.
        tag: String,
    },
    /// A leftover of an interrupted atomic write (`<name>.pyc.<digits>`).
    TempFile {
        /// The file.
        path: PathBuf,
    },
    /// A pyc that cannot be read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What kind of thing a [`Finding`] is, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// [`Finding::Fresh`].
    Fresh,
    /// [`Finding::Stale`] with no pyc at all ([`StaleReason::Missing`]).
    Missing,
    /// Any other [`Finding::Stale`].
    Stale,
    /// [`Finding::Orphan`].
    Orphan,
    /// [`Finding::LegacyWithSource`].
    Legacy,
    /// [`Finding::SourcelessLegacy`].
    Sourceless,
    /// [`Finding::OtherTag`].
    OtherTag,
    /// [`Finding::TempFile`].
    Temp,
    /// [`Finding::Unreadable`].
    Unreadable,
}

impl FindingKind {
    /// The keyword: `fresh`, `stale`, `missing`, `orphan`, `legacy`, `sourceless`,
    /// `other-tag`, `temp`, `unreadable`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Fresh => "fresh",
            FindingKind::Missing => "missing",
            FindingKind::Stale => "stale",
            FindingKind::Orphan => "orphan",
            FindingKind::Legacy => "legacy",
            FindingKind::Sourceless => "sourceless",
            FindingKind::OtherTag => "other-tag",
            FindingKind::Temp => "temp",
            FindingKind::Unreadable => "unreadable",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Finding {
    /// What kind of finding this is.
    pub fn kind(&self) -> FindingKind {
        match self {
            Finding::Fresh { .. } => FindingKind::Fresh,
            Finding::Stale {
                reason: StaleReason::Missing,
                ..
            } => FindingKind::Missing,
            Finding::Stale { .. } => FindingKind::Stale,
            Finding::Orphan { .. } => FindingKind::Orphan,
            Finding::LegacyWithSource { .. } => FindingKind::Legacy,
            Finding::SourcelessLegacy { .. } => FindingKind::Sourceless,
            Finding::OtherTag { .. } => FindingKind::OtherTag,
            Finding::TempFile { .. } => FindingKind::Temp,
            Finding::Unreadable { .. } => FindingKind::Unreadable,
        }
    }

    /// The file the finding is about (the pyc, or the temporary file).
    pub fn path(&self) -> &Path {
        match self {
            Finding::Fresh { pyc, .. }
            | Finding::Stale { pyc, .. }
            | Finding::Orphan { pyc }
            | Finding::LegacyWithSource { pyc }
            | Finding::SourcelessLegacy { pyc }
            | Finding::OtherTag { pyc, .. } => pyc,
            Finding::TempFile { path } | Finding::Unreadable { path, .. } => path,
        }
    }
}

/// The result of [`scan`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Scan {
    /// Everything found, sources first (in walk order), then debris.
    pub findings: Vec<Finding>,
    /// Missing paths and unlistable directories.
    pub problems: Vec<WalkProblem>,
    /// The `__pycache__` directories in the tree.
    pub pycache_dirs: Vec<PathBuf>,
    /// The trees scanned, resolved (a file's directory for a file): `clean` removes nothing
    /// outside them.
    pub roots: Vec<PathBuf>,
}

/// `<name>.pyc.<digits>`: what `_write_atomic` (and pycache) leave when interrupted mid-write.
pub fn is_temp_file_name(name: &[u8]) -> bool {
    let Some(at) = name.windows(5).rposition(|w| w == b".pyc.") else {
        return false;
    };
    let digits = &name[at + 5..];
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// The cache tag in a `__pycache__` file name (`foo.cpython-312.opt-1.pyc` → `cpython-312`).
pub(crate) fn tag_of(name: &[u8]) -> Option<&[u8]> {
    let mut parts = name.split(|&b| b == b'.');
    parts.next()?;
    let tag = parts.next()?;
    parts.next().map(|_| tag)
}

/// One interpreter as the scan sees it: where its pycs go, what its import accepts, which
/// roots it walks and how deep.
struct ScanTarget {
    scheme: CacheScheme,
    rules: ImportRules,
    roots: Vec<OsString>,
    max_levels: usize,
}

/// Scans `options.targets` for `interpreters` (see the module docs): one walk, then the
/// sources' pycs judged, then the debris in `__pycache__` directories and beside the sources.
pub fn scan(interpreters: &[Interpreter], options: &ScanOptions) -> Scan {
    let threads = options.threads.max(1);
    let targets = scan_targets(interpreters, options);
    let tags: Vec<Option<&str>> = interpreters.iter().map(Interpreter::cache_tag).collect();
    let plan: Vec<(&[OsString], usize)> = targets
        .iter()
        .map(|t| (&t.roots[..], t.max_levels))
        .collect();
    let roots = WalkRoot::union(&plan);
    let walked = walk_tree(&roots, &tags, threads);
    let mut result = Scan {
        problems: walked.problems.clone(),
        pycache_dirs: walked.pycache_dirs.iter().map(PathBuf::from).collect(),
        roots: (roots.iter())
            .filter_map(|root| resolved_tree(Path::new(&root.path)))
            .collect(),
        ..Scan::default()
    };
    let (sources, covered) = judge_sources(&targets, &walked, options, threads);
    result.findings = sources;
    let debris = PycacheDebris {
        tags: &tags,
        targets: &targets,
        sources: (walked.candidates.iter())
            .filter_map(|c| Some((c.path.as_bytes(), c.facts?)))
            .collect(),
    };
    let in_pycache = debris.judge_all(&result.pycache_dirs, &walked.listings, &covered, threads);
    result.findings.extend(in_pycache);
    result
        .findings
        .extend(beside_sources(&walked.candidates, &covered, options));
    result
}

/// Each interpreter's scheme, import rules, roots and depth for `options`.
fn scan_targets(interpreters: &[Interpreter], options: &ScanOptions) -> Vec<ScanTarget> {
    (interpreters.iter())
        .map(|interpreter| {
            let scope = Scope::of(
                interpreter,
                &options.targets,
                options.max_levels,
                &options.pycache_prefix,
            );
            ScanTarget {
                scheme: scope.scheme,
                rules: interpreter.import_rules(options.check_hash_based_pycs),
                roots: scope.roots,
                max_levels: scope.max_levels,
            }
        })
        .collect()
}

/// The walk of `roots`, which stats every source and reads the header of every pyc of a tag in
/// `tags`, holding each directory open; what follows only looks things up.
fn walk_tree(roots: &[WalkRoot], tags: &[Option<&str>], threads: usize) -> Walk {
    let wanted = |name: &[u8]| {
        name.ends_with(b".pyc")
            && tag_of(name).is_some_and(|tag| tags.iter().flatten().any(|t| t.as_bytes() == tag))
    };
    let interesting =
        |name: &[u8]| name.ends_with(b".py") || name.ends_with(b".pyc") || is_temp_file_name(name);
    let prefetch = Prefetch {
        stat_sources: true,
        pycache: PycacheRead::List(&wanted),
        keep_files: Some(&interesting),
    };
    walk(roots, &WalkOptions { threads, prefetch })
}

/// The pycs judged as some source's expected pyc: listed ones by position in the walk's
/// listings, others by path. The debris passes skip them.
#[derive(Default)]
struct Covered {
    listed: HashSet<(usize, usize)>,
    paths: HashSet<PathBuf>,
}

/// Every selected source's expected pycs (per interpreter and level), judged.
fn judge_sources(
    targets: &[ScanTarget],
    walked: &Walk,
    options: &ScanOptions,
    threads: usize,
) -> (Vec<Finding>, Covered) {
    let jobs = source_jobs(targets, walked, options);
    let judged = parallel_map(&jobs, threads, |(t, candidate, pyc)| {
        let source = Path::new(&candidate.path);
        let facts = candidate
            .facts
            .or_else(|| {
                std::fs::metadata(source)
                    .ok()
                    .map(|m| FileFacts::from_metadata(&m))
            })
            .filter(FileFacts::is_file)?;
        Some(classify_listed(
            &targets[*t].rules,
            &walked.listings,
            pyc,
            facts,
            source,
            options.verify_payloads,
        ))
    });
    let mut covered = Covered::default();
    let mut findings = Vec::new();
    for ((t, candidate, pyc), verdict) in jobs.into_iter().zip(judged) {
        let Some((verdict, listed)) = verdict else {
            continue;
        };
        match listed {
            Some(position) => covered.listed.insert(position),
            None => covered.paths.insert(pyc.clone()),
        };
        let source = PathBuf::from(&candidate.path);
        findings.push(match verdict {
            Freshness::Fresh(_) => Finding::Fresh {
                source,
                pyc,
                interpreter: t,
            },
            Freshness::Stale(reason) => Finding::Stale {
                source,
                pyc,
                interpreter: t,
                reason,
            },
        });
    }
    (findings, covered)
}

/// Every selected source with each pyc it should have: (interpreter, source, pyc).
fn source_jobs<'w>(
    targets: &[ScanTarget],
    walked: &'w Walk,
    options: &ScanOptions,
) -> Vec<(usize, &'w Candidate, PathBuf)> {
    let levels: &[i8] = if options.levels.is_empty() {
        &[-1]
    } else {
        &options.levels
    };
    let mut jobs = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        for root in &target.roots {
            for candidate in walked.candidates_under(root) {
                if candidate.depth() > target.max_levels
                    || !has_py_suffix(&candidate.path)
                    || excluded(&candidate.path, options.exclude.as_ref(), None)
                {
                    continue;
                }
                for &level in levels {
                    let pyc = if options.legacy {
                        Some(PathBuf::from(legacy_cache_from_source(&candidate.path)))
                    } else {
                        (target.scheme)
                            .cache_from_source(&candidate.path, optimization_for(level).as_deref())
                            .ok()
                            .map(PathBuf::from)
                    };
                    jobs.extend(pyc.map(|pyc| (t, candidate, pyc)));
                }
            }
        }
    }
    jobs
}

/// What judging the files of `__pycache__` directories needs.
struct PycacheDebris<'a> {
    tags: &'a [Option<&'a str>],
    targets: &'a [ScanTarget],
    /// The sources the walk stat'ed, by path.
    sources: HashMap<&'a [u8], FileFacts>,
}

impl PycacheDebris<'_> {
    /// Debris in `pycache_dirs`: the walk listed them (and read the headers of the selected
    /// tags' pycs); a directory it could not list is listed again here.
    fn judge_all(
        &self,
        pycache_dirs: &[PathBuf],
        listings: &PycacheListings,
        covered: &Covered,
        threads: usize,
    ) -> Vec<Finding> {
        let mut files: Vec<(PathBuf, bool, Option<&PycHead>)> = Vec::new();
        for dir in pycache_dirs {
            let dir_bytes = dir.as_os_str().as_bytes();
            match listings.position(dir_bytes) {
                Some(at) => {
                    for (i, file) in listings.dirs[at].files.iter().enumerate() {
                        if !covered.listed.contains(&(at, i)) {
                            let path = PathBuf::from(OsString::from_vec(posix_join(
                                dir_bytes,
                                file.name.as_bytes(),
                            )));
                            files.push((path, file.is_file, file.head.as_ref()));
                        }
                    }
                }
                None => files.extend(list_again(dir, &covered.paths)),
            }
        }
        let debris = parallel_map(&files, threads, |(path, is_file, head)| {
            self.judge_file(path, *is_file, *head)
        });
        debris.into_iter().flatten().collect()
    }

    /// What the file at `path` in a `__pycache__` is: a temporary file, an orphan, a pyc of
    /// another tag, or a selected interpreter's pyc (at a level nobody asked about) judged.
    fn judge_file(&self, path: &Path, is_file: bool, head: Option<&PycHead>) -> Option<Finding> {
        let name = path.file_name()?.as_bytes();
        if is_temp_file_name(name) {
            return Some(Finding::TempFile {
                path: path.to_owned(),
            });
        }
        if !name.ends_with(b".pyc") || !is_file {
            return None;
        }
        // A name import's source_from_cache refuses (`a.tag.opt-.pyc`, `a.tag.opt-1.opt-2.pyc`)
        // is the pyc of no source: import never reads it.
        if !is_pyc_of_a_source(path) {
            return Some(Finding::Orphan {
                pyc: path.to_owned(),
            });
        }
        // source_from_cache's rule: the text before the first dot, plus ".py", beside __pycache__.
        let base = name.split(|&b| b == b'.').next().unwrap_or_default();
        let mut source_name = base.to_vec();
        source_name.extend_from_slice(b".py");
        let source = path
            .parent()?
            .parent()?
            .join(OsStr::from_bytes(&source_name));
        let facts = (self.sources)
            .get(source.as_os_str().as_bytes())
            .copied()
            .or_else(|| {
                std::fs::metadata(&source)
                    .ok()
                    .map(|m| FileFacts::from_metadata(&m))
            });
        let Some(facts) = facts else {
            return Some(Finding::Orphan {
                pyc: path.to_owned(),
            });
        };
        let tag = tag_of(name)
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default();
        let Some(index) = self.tags.iter().position(|t| *t == Some(tag.as_str())) else {
            return Some(Finding::OtherTag {
                pyc: path.to_owned(),
                tag,
            });
        };
        // A pyc of a selected interpreter at a level nobody asked about: judge it all the same.
        let read_source = || std::fs::read(&source);
        let stat = facts.source_stat();
        match judge(
            &self.targets[index].rules,
            path,
            head,
            stat,
            read_source,
            true,
        ) {
            Freshness::Fresh(_) => Some(Finding::Fresh {
                source,
                pyc: path.to_owned(),
                interpreter: index,
            }),
            Freshness::Stale(StaleReason::Unreadable(reason)) => Some(Finding::Unreadable {
                path: path.to_owned(),
                reason,
            }),
            Freshness::Stale(reason) => Some(Finding::Stale {
                source,
                pyc: path.to_owned(),
                interpreter: index,
                reason,
            }),
        }
    }
}

/// The files of a `__pycache__` the walk could not list, but `covered`, sorted by path.
fn list_again<'a>(
    dir: &Path,
    covered: &HashSet<PathBuf>,
) -> Vec<(PathBuf, bool, Option<&'a PycHead>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<(PathBuf, bool, Option<&PycHead>)> = entries
        .filter_map(Result::ok)
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_file()), None))
        .filter(|(path, _, _)| !covered.contains(path))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names
}

/// Legacy pycs and temporary files beside the sources.
fn beside_sources(
    candidates: &[Candidate],
    covered: &Covered,
    options: &ScanOptions,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for candidate in candidates {
        let name = candidate.path.as_bytes();
        if !name.ends_with(b".pyc") && !name.last().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let path = PathBuf::from(&candidate.path);
        if excluded(&candidate.path, options.exclude.as_ref(), None) {
            continue;
        }
        if is_temp_file_name(basename(name)) {
            findings.push(Finding::TempFile { path });
        } else if name.ends_with(b".pyc") && !covered.paths.contains(&path) {
            let source = PathBuf::from(OsString::from_vec(name[..name.len() - 1].to_vec()));
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                findings.push(if source.exists() {
                    Finding::LegacyWithSource { pyc: path }
                } else {
                    Finding::SourcelessLegacy { pyc: path }
                });
            }
        }
    }
    findings
}

/// The real path of the tree `root` names: the directory itself, or a file's directory.
fn resolved_tree(root: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(root).ok()?;
    if real.is_dir() {
        Some(real)
    } else {
        real.parent().map(Path::to_path_buf)
    }
}

/// Import's verdict on `pyc` for a source with `facts`, from the header the walk read when it
/// did (with the pyc's position in `listings`), else from disk.
fn classify_listed(
    rules: &ImportRules,
    listings: &PycacheListings,
    pyc: &Path,
    facts: FileFacts,
    source: &Path,
    verify: bool,
) -> (Freshness, Option<(usize, usize)>) {
    let stat = facts.source_stat();
    let read_source = || std::fs::read(source);
    match listings.find(pyc.as_os_str().as_bytes()) {
        Lookup::Missing => (Freshness::Stale(StaleReason::Missing), None),
        Lookup::Listed(dir, index, file) => (
            judge(rules, pyc, file.head.as_ref(), stat, read_source, verify),
            Some((dir, index)),
        ),
        Lookup::Unknown => (judge(rules, pyc, None, stat, read_source, verify), None),
    }
}

/// True when `source_from_cache` accepts `pyc` (any tag will do: it never checks it).
fn is_pyc_of_a_source(pyc: &Path) -> bool {
    CacheScheme::new(Some("any"), crate::version::PythonVersion::new(3, 99))
        .source_from_cache(pyc.as_os_str())
        .is_ok()
}
