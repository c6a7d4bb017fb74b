//! Remembered compile errors, so that a tree holding files that never compile (test data,
//! Python 2 leftovers) does not start an interpreter on every run just to hear the same
//! SyntaxError again.
//!
//! An entry is reused only for the same interpreter (path, version, magic), the same source
//! (path, device, inode, size, mtime and ctime to the nanosecond), the same name compiled into
//! the code and the same optimization levels: then the interpreter would say exactly the same
//! thing. A source modified within two seconds of the recording is checked again (its timestamp
//! might not have moved). Only errors the interpreter itself reported are remembered, never I/O
//! errors or timeouts. `-f` ignores the cache. Like the probe cache, it only ever saves time.
//!
//! Every save drops the entries that can never be used again (their source is gone or has
//! changed), and keeps at most [`MAX_ENTRIES`], the newest: the file is read whenever a run
//! has stale files, so it must not grow with every tree ever compiled.

use super::job::Ran;
use super::plan::{Job, Plan};
use super::{Failure, FileReport, Outcome};
use crate::interpreter::Interpreter;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const RACY_NS: i128 = 2_000_000_000;

/// The most failures remembered.
const MAX_ENTRIES: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(super) struct Key {
    interpreter: String,
    source: String,
    name: String,
    levels: Vec<i8>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Entry {
    key: Key,
    stamp: Stamp,
    recorded_at: i128,
    message: String,
    warnings: String,
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl Key {
    pub(crate) fn new(
        interpreter: &Interpreter,
        source: &Path,
        name: &[u8],
        levels: &[i8],
    ) -> Self {
        let absolute = std::path::absolute(source).unwrap_or_else(|_| source.to_owned());
        Key {
            interpreter: format!(
                "{}|{}|{}",
                hex(interpreter.path().as_os_str().as_bytes()),
                interpreter.full_version(),
                interpreter.magic()
            ),
            source: hex(absolute.as_os_str().as_bytes()),
            name: hex(name),
            levels: levels.to_vec(),
        }
    }
}

impl Entry {
    /// True while the source is exactly as recorded, so that a lookup could still use it.
    fn still_applies(&self) -> bool {
        let Some(source) = unhex(&self.key.source) else {
            return false;
        };
        let source = std::path::PathBuf::from(std::ffi::OsString::from(
            <std::ffi::OsStr as OsStrExt>::from_bytes(&source),
        ));
        std::fs::metadata(source).is_ok_and(|m| Stamp::of(&m) == self.stamp)
    }
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Stamp {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            ctime_ns: i128::from(metadata.ctime()) * 1_000_000_000
                + i128::from(metadata.ctime_nsec()),
        }
    }
}

/// The remembered failures, loaded for one run.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    file: Option<PathBuf>,
    entries: HashMap<Key, Entry>,
    /// The file name (last component) of every source loaded with a failure: a job whose
    /// file is named otherwise has none, and needs no key made (most jobs, when a few
    /// failures are remembered: a key costs allocations and hex text per job).
    names: HashSet<Vec<u8>>,
    changed: bool,
    started: i128,
}

impl Failures {
    pub(crate) fn load() -> Self {
        Self::load_from(
            crate::interpreter::cache_dir().map(|dir| dir.join("compile-failures-v1.json")),
        )
    }

    fn load_from(file: Option<PathBuf>) -> Self {
        let entries: Vec<Entry> = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|data| serde_json::from_slice(&data).ok())
            .unwrap_or_default();
        let names = entries
            .iter()
            .filter_map(|e| unhex(&e.key.source))
            .filter_map(|source| {
                let name = Path::new(OsStr::from_bytes(&source)).file_name()?;
                Some(name.as_bytes().to_vec())
            })
            .collect();
        Failures {
            file,
            entries: entries.into_iter().map(|e| (e.key.clone(), e)).collect(),
            names,
            changed: false,
            started: now_ns(),
        }
    }

    /// Whether a failure is remembered for `key` at all, whatever the file's stat.
    pub(crate) fn remembers(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    /// False when no failure was loaded for any source named as `source` is, so that no
    /// failure can be remembered for it (true says only that one might be).
    pub(crate) fn may_remember(&self, source: &Path) -> bool {
        source
            .file_name()
            .is_some_and(|name| self.names.contains(name.as_bytes()))
    }

    /// True when no failure is remembered at all (most runs: no key need be made).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The remembered error and warnings for `key`, if the source is exactly as it was.
    pub(crate) fn lookup(&self, key: &Key, metadata: &std::fs::Metadata) -> Option<(&str, &str)> {
        let entry = self.entries.get(key)?;
        let stamp = Stamp::of(metadata);
        let settled = stamp.mtime_ns.max(stamp.ctime_ns) + RACY_NS < entry.recorded_at;
        (entry.stamp == stamp && settled)
            .then_some((entry.message.as_str(), entry.warnings.as_str()))
    }

    pub(crate) fn record(
        &mut self,
        key: Key,
        metadata: &std::fs::Metadata,
        message: &str,
        warnings: &str,
    ) {
        let entry = Entry {
            key: key.clone(),
            stamp: Stamp::of(metadata),
            recorded_at: self.started,
            message: message.to_owned(),
            warnings: warnings.to_owned(),
        };
        self.entries.insert(key, entry);
        self.changed = true;
    }

    pub(crate) fn forget(&mut self, key: &Key) {
        self.changed |= self.entries.remove(key).is_some();
    }

    /// Writes the entries that still apply back (atomically) when anything changed.
    pub(crate) fn save(self) {
        let Some(file) = self.file.filter(|_| self.changed) else {
            return;
        };
        let mut entries: Vec<&Entry> = self
            .entries
            .values()
            .filter(|e| e.still_applies())
            .collect();
        if entries.len() > MAX_ENTRIES {
            entries.sort_by_key(|e| std::cmp::Reverse(e.recorded_at));
            entries.truncate(MAX_ENTRIES);
        }
        let Ok(data) = serde_json::to_vec(&entries) else {
            return;
        };
        if let Some(dir) = file.parent()
            && std::fs::create_dir_all(dir).is_ok()
        {
            let temporary = file.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&temporary, data).is_err()
                || std::fs::rename(&temporary, &file).is_err()
            {
                let _ = std::fs::remove_file(&temporary);
            }
        }
    }
}

/// The remembered-failures stage of a run: the failures loaded, so that a file the
/// interpreter rejects is recorded and a file that compiles again is forgotten; saved once at
/// the end.
#[derive(Debug, Default)]
pub(super) struct Remembered {
    failures: Option<Failures>,
    /// The keys of the jobs sent on that had a failure remembered (their source changed since):
    /// forgotten when they compile. By interpreter and source path; most runs have none, so
    /// that no key is held per file.
    to_forget: HashMap<(usize, OsString), Key>,
}

impl Remembered {
    /// Splits `stale` into the reports of files that failed last time and are unchanged since
    /// (they fail again without starting Python) and the jobs to go on with. `-f` looks
    /// nothing up, but still records.
    pub(super) fn consult(
        plan: &Plan,
        stale: Vec<Job>,
        force: bool,
    ) -> (Self, Vec<FileReport>, Vec<Job>) {
        if stale.is_empty() {
            return (Remembered::default(), Vec::new(), stale);
        }
        let failures = Failures::load();
        if failures.is_empty() {
            let stage = Remembered {
                failures: Some(failures),
                to_forget: HashMap::new(),
            };
            return (stage, Vec::new(), stale);
        }
        let mut to_forget = HashMap::new();
        let mut reports = Vec::new();
        let mut dispatched = Vec::with_capacity(stale.len());
        for job in stale {
            let cell = &job.cell;
            if !failures.may_remember(cell.path()) {
                dispatched.push(job);
                continue;
            }
            let key = Key::new(
                &plan.targets[job.target].interpreter,
                cell.path(),
                &job.name,
                &plan.levels,
            );
            if !failures.remembers(&key) {
                dispatched.push(job);
                continue;
            }
            // Stated only when a failure is remembered for it (most files have none).
            let remembered = (!force)
                .then(|| cell.metadata())
                .flatten()
                .and_then(|metadata| failures.lookup(&key, metadata));
            match remembered {
                Some((message, warnings)) => {
                    let failure = Failure::Rejected {
                        message: message.to_owned(),
                        warnings: warnings.to_owned(),
                    };
                    reports.push(job.report(Outcome::Failed(failure), warnings.to_owned()));
                }
                None => {
                    to_forget.insert((job.target, cell.candidate.path.clone()), key);
                    dispatched.push(job);
                }
            }
        }
        let stage = Remembered {
            failures: Some(failures),
            to_forget,
        };
        (stage, reports, dispatched)
    }

    /// Remembers a file the interpreter rejected (against the stat made for freshness), and
    /// forgets one that compiled.
    pub(super) fn settle(&mut self, plan: &Plan, ran: &Ran) {
        let Some(failures) = &mut self.failures else {
            return;
        };
        let report = &ran.report;
        match &report.outcome {
            Outcome::Failed(Failure::Rejected { message, warnings }) => {
                if let Some(metadata) = ran.cell.metadata() {
                    let key = Key::new(
                        &plan.targets[report.interpreter].interpreter,
                        ran.cell.path(),
                        &ran.name,
                        &plan.levels,
                    );
                    failures.record(key, metadata, message, warnings);
                }
            }
            Outcome::Compiled => {
                if let Some(key) = self
                    .to_forget
                    .remove(&(report.interpreter, report.source.clone()))
                {
                    failures.forget(&key);
                }
            }
            _ => {}
        }
    }

    /// Saves what changed.
    pub(super) fn save(self) {
        if let Some(failures) = self.failures {
            failures.save();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &Path) -> Key {
        Key {
            interpreter: "python".to_owned(),
            source: hex(source.as_os_str().as_bytes()),
            name: String::new(),
            levels: vec![-1],
        }
    }

    #[test]
    fn a_save_forgets_what_can_never_be_used_again() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("failures.json");
        let (kept, edited, gone) = (
            tmp.path().join("kept.py"),
            tmp.path().join("edited.py"),
            tmp.path().join("gone.py"),
        );
        for path in [&kept, &edited, &gone] {
            std::fs::write(path, "def f(:\n").unwrap();
        }
        let mut failures = Failures::load_from(Some(db.clone()));
        for path in [&kept, &edited, &gone] {
            let metadata = std::fs::metadata(path).unwrap();
            failures.record(key(path), &metadata, "SyntaxError", "");
        }
        std::fs::write(&edited, "def f(::\n").unwrap();
        std::fs::remove_file(&gone).unwrap();
        failures.save();

        let reloaded = Failures::load_from(Some(db));
        let mut sources: Vec<String> = reloaded.entries.keys().map(|k| k.source.clone()).collect();
        sources.sort();
        assert_eq!(sources, vec![hex(kept.as_os_str().as_bytes())]);
        assert_eq!(unhex(&sources[0]).unwrap(), kept.as_os_str().as_bytes());
    }

    #[test]
    fn only_sources_named_as_a_remembered_one_may_have_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("failures.json");
        let bad = tmp.path().join("pkg").join("bad.py");
        std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
        std::fs::write(&bad, "def f(:\n").unwrap();
        let mut failures = Failures::load_from(Some(db.clone()));
        failures.record(
            key(&bad),
            &std::fs::metadata(&bad).unwrap(),
            "SyntaxError",
            "",
        );
        failures.save();

        let reloaded = Failures::load_from(Some(db));
        assert!(reloaded.may_remember(&bad));
        assert!(reloaded.may_remember(Path::new("elsewhere/bad.py")));
        assert!(!reloaded.may_remember(Path::new("pkg/good.py")));
        assert!(!reloaded.may_remember(Path::new("pkg/bad.pyw")));
        assert!(reloaded.remembers(&key(&bad)));
    }
}
