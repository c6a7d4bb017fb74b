//! `pycache clean`: which findings go, and removing them.

use super::{Finding, FindingKind, Scan};
use crate::freshness::StaleReason;
use std::path::{Path, PathBuf};

/// What to remove beyond the default (orphans, stale pycs, temporary files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanOptions {
    /// Also remove pycs of tags outside this list (`--tags`).
    pub keep_tags: Option<Vec<String>>,
    /// Also remove pycs of tags no selected interpreter has (`--other-tags`).
    pub other_tags: bool,
    /// Also remove legacy pycs that have a source beside them (`--legacy`).
    pub legacy: bool,
    /// Also remove sourceless legacy pycs (`--sourceless`; never by default: some projects ship
    /// bytecode only).
    pub sourceless: bool,
    /// Remove every pyc and `__pycache__` (what pyclean does).
    pub all: bool,
}

/// One file to remove, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Removal {
    /// The file.
    pub path: PathBuf,
    /// The finding's kind (`orphan`, `stale`, ...).
    pub why: FindingKind,
    /// Its size in bytes (of the link itself for a symlink).
    pub bytes: u64,
}

/// What [`remove`] did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RemovalReport {
    /// Files removed (or that would be, on a dry run).
    pub removed: Vec<Removal>,
    /// Files that could not be removed, and why.
    pub failed: Vec<(PathBuf, String)>,
    /// `__pycache__` directories removed because they were left empty.
    pub removed_dirs: Vec<PathBuf>,
    /// Files left alone on purpose (a symlinked directory, outside the trees, a directory, a
    /// temporary file in use), and why.
    pub skipped: Vec<(PathBuf, String)>,
}

fn tag_of(pyc: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    super::tag_of(pyc.file_name()?.as_bytes()).map(|tag| String::from_utf8_lossy(tag).into_owned())
}

/// The files `scan` says should go under `options`, each once.
pub fn plan_clean(scan: &Scan, options: &CleanOptions) -> Vec<Removal> {
    let mut plan: Vec<Removal> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for finding in &scan.findings {
        let in_pycache = finding
            .path()
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "__pycache__");
        let tag_not_kept = options.keep_tags.as_ref().is_some_and(|keep| {
            in_pycache && tag_of(finding.path()).is_some_and(|tag| !keep.contains(&tag))
        });
        let goes = match finding {
            _ if options.all => !matches!(
                finding,
                Finding::Stale {
                    reason: StaleReason::Missing,
                    ..
                }
            ),
            Finding::Stale {
                reason: StaleReason::Missing,
                ..
            } => false,
            Finding::Orphan { .. } | Finding::Stale { .. } | Finding::TempFile { .. } => true,
            Finding::OtherTag { .. } => options.other_tags || tag_not_kept,
            Finding::Fresh { .. } => tag_not_kept,
            Finding::LegacyWithSource { .. } => options.legacy,
            Finding::SourcelessLegacy { .. } => options.sourceless,
            Finding::Unreadable { .. } => false,
        };
        if goes && seen.insert(finding.path().to_owned()) {
            let bytes = std::fs::symlink_metadata(finding.path()).map_or(0, |m| m.len());
            plan.push(Removal {
                path: finding.path().to_owned(),
                why: finding.kind(),
                bytes,
            });
        }
    }
    plan
}

/// Removes `plan` (unless `dry_run`), then every `__pycache__` of `scan` left empty. A file
/// that cannot be removed is reported, and the rest goes on. Nothing is removed (or offered on
/// a dry run) whose directory is a symlink or lies, once resolved, outside the trees scanned;
/// no directory is ever unlinked; a temporary file that a writer holds locked, or that is
/// younger than [`TEMP_FILE_GRACE`], is left alone: those are reported as `skipped`.
pub fn remove(scan: &Scan, plan: Vec<Removal>, dry_run: bool) -> RemovalReport {
    let mut report = RemovalReport::default();
    let mut gone = std::collections::HashSet::new();
    for removal in plan {
        match remove_inside(&removal, &scan.roots, dry_run) {
            Ok(true) => {
                gone.insert(removal.path.clone());
                report.removed.push(removal);
            }
            Ok(false) => {}
            Err(Refusal::Skipped(why)) => report.skipped.push((removal.path, why)),
            Err(Refusal::Failed(why)) => report.failed.push((removal.path, why)),
        }
    }
    for dir in &scan.pycache_dirs {
        let empty = std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .all(|entry| gone.contains(&entry.path()))
        });
        let is_real_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
        if empty && is_real_dir && (dry_run || std::fs::remove_dir(dir).is_ok()) {
            report.removed_dirs.push(dir.clone());
        }
    }
    report
}

/// How long a temporary file is left alone after its last write, whether locked or not: a
/// writer may not have taken its lock yet (and `py_compile`'s writers never take one).
pub const TEMP_FILE_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

enum Refusal {
    /// Left alone on purpose (reported, not an error).
    Skipped(String),
    /// Tried and failed.
    Failed(String),
}

/// Removes one file through a descriptor on its directory, after checking that the directory
/// is a real one inside `roots` and the file is not a directory (or a temporary file in use).
/// `Ok(false)`: it was already gone.
fn remove_inside(removal: &Removal, roots: &[PathBuf], dry_run: bool) -> Result<bool, Refusal> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let parent = match removal.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(name) = removal.path.file_name() else {
        return Err(Refusal::Skipped("not a file name".into()));
    };
    // A symlinked root is the tree itself; a symlinked __pycache__ is someone else's cache.
    let in_pycache = parent
        .file_name()
        .is_some_and(|name| name == crate::PYCACHE);
    if in_pycache && std::fs::symlink_metadata(parent).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Refusal::Skipped(
            "its __pycache__ is a symlink (not entered by clean)".into(),
        ));
    }
    // The resolved path of the directory opened is what decides (below); a __pycache__ turned
    // into a symlink since the check above is not opened at all.
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if in_pycache {
        flags |= OFlags::NOFOLLOW;
    }
    let dir = match rustix::fs::open(parent, flags, Mode::empty()) {
        Ok(dir) => dir,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(error) => return Err(Refusal::Failed(std::io::Error::from(error).to_string())),
    };
    let real = descriptor_path(&dir);
    if !real
        .as_ref()
        .is_some_and(|real| roots.iter().any(|r| real.starts_with(r)))
    {
        return Err(Refusal::Skipped(
            "its directory lies outside the trees given".into(),
        ));
    }
    let stat = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(error) => return Err(Refusal::Failed(std::io::Error::from(error).to_string())),
    };
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile | FileType::Symlink => {}
        FileType::Directory => return Err(Refusal::Skipped("a directory, not a pyc".into())),
        _ => {
            return Err(Refusal::Skipped(
                "not a regular file (a FIFO, a device...)".into(),
            ));
        }
    }
    // Held until the unlink: a writer that locks it later finds it gone, not half-removed.
    let _lock = if removal.why == FindingKind::Temp {
        Some(temp_file_not_in_use(&dir, name, &stat)?)
    } else {
        None
    };
    if dry_run {
        return Ok(true);
    }
    match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(error) => Err(Refusal::Failed(std::io::Error::from(error).to_string())),
    }
}

/// The resolved path of an open directory (`/proc/self/fd/N`), which no symlink can fake.
fn descriptor_path(dir: &std::os::fd::OwnedFd) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok()
}

/// Checks that a temporary file is not being written: older than [`TEMP_FILE_GRACE`] and not
/// locked by its writer. Returns the descriptor holding our own lock.
fn temp_file_not_in_use(
    dir: &std::os::fd::OwnedFd,
    name: &std::ffi::OsStr,
    stat: &rustix::fs::Stat,
) -> Result<std::os::fd::OwnedFd, Refusal> {
    use rustix::fs::{FlockOperation, Mode, OFlags};
    let modified = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(stat.st_mtime).unwrap_or(0));
    if modified.elapsed().unwrap_or_default() < TEMP_FILE_GRACE {
        return Err(Refusal::Skipped(
            "written less than a minute ago (a write may be in progress)".into(),
        ));
    }
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let file = rustix::fs::openat(dir, name, flags, Mode::empty())
        .map_err(|e| Refusal::Failed(std::io::Error::from(e).to_string()))?;
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => {
            Err(Refusal::Skipped("locked by the process writing it".into()))
        }
        Err(error) => Err(Refusal::Failed(std::io::Error::from(error).to_string())),
    }
}
