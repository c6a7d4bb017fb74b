//! `pycache clean`: which findings go, and removing them.

use super::{Finding, Scan};
use crate::freshness::StaleReason;
use std::path::{Path, PathBuf};

/// What to remove beyond the default (orphans, stale pycs, temporary files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
pub struct Removal {
    /// The file.
    pub path: PathBuf,
    /// The finding's kind (`orphan`, `stale`, ...).
    pub why: &'static str,
    /// Its size in bytes (of the link itself for a symlink).
    pub bytes: u64,
}

/// What [`remove`] did.
#[derive(Debug, Clone, Default)]
pub struct RemovalReport {
    /// Files removed (or that would be, on a dry run).
    pub removed: Vec<Removal>,
    /// Files that could not be removed, and why.
    pub failed: Vec<(PathBuf, String)>,
    /// `__pycache__` directories removed because they were left empty.
    pub removed_dirs: Vec<PathBuf>,
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
/// that cannot be removed is reported, and the rest goes on.
pub fn remove(scan: &Scan, plan: Vec<Removal>, dry_run: bool) -> RemovalReport {
    let mut report = RemovalReport::default();
    let mut gone = std::collections::HashSet::new();
    for removal in plan {
        if dry_run {
            gone.insert(removal.path.clone());
            report.removed.push(removal);
            continue;
        }
        // remove_file unlinks the name itself: a symlink is removed, never followed.
        match std::fs::remove_file(&removal.path) {
            Ok(()) => {
                gone.insert(removal.path.clone());
                report.removed.push(removal);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => report.failed.push((removal.path, error.to_string())),
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
