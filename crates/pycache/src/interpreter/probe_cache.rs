//! The on-disk cache of probe answers, so that a run whose interpreters are known starts no
//! Python.
//!
//! One small JSON file per interpreter under `$PYCACHE_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/pycache`, else `~/.cache/pycache`. An entry is used only when its key matches
//! exactly: the executable as invoked, the file it resolves to with that file's size and mtime,
//! and the values of the environment variables that change what the probe reports. A cache that
//! cannot be read or written is silently ignored: it only ever saves time.

use super::ProbeData;
use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Environment variables that change what the probe reports.
const ENV_KEYS: &[&str] = &[
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONPYCACHEPREFIX",
    "PYTHONOPTIMIZE",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "PYTHONPLATLIBDIR",
    "VIRTUAL_ENV",
];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ProbeKey {
    invoked: Vec<u8>,
    resolved: Vec<u8>,
    size: u64,
    mtime_ns: i128,
    env: Vec<(String, Option<Vec<u8>>)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    key: ProbeKey,
    data: ProbeData,
}

impl ProbeKey {
    pub(crate) fn for_executable(executable: &Path) -> Option<Self> {
        let resolved = std::fs::canonicalize(executable).ok()?;
        let metadata = std::fs::metadata(&resolved).ok()?;
        // A script (a wrapper doing `exec python3 "$@"`) runs whatever its PATH finds.
        let env_keys: &[&str] = if is_script(&resolved) { &["PATH"] } else { &[] };
        Some(ProbeKey {
            invoked: executable.as_os_str().as_bytes().to_vec(),
            resolved: resolved.as_os_str().as_bytes().to_vec(),
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            env: ENV_KEYS
                .iter()
                .chain(env_keys)
                .map(|&name| {
                    let value = std::env::var_os(name).map(|v| v.as_bytes().to_vec());
                    (name.to_owned(), value)
                })
                .collect(),
        })
    }

    fn file_name(&self) -> String {
        let mut hasher = siphasher::sip::SipHasher13::new();
        hasher.write(&self.invoked);
        hasher.write(&[0]);
        hasher.write(&self.resolved);
        format!("probe-{:016x}.json", hasher.finish())
    }
}

/// True when `path` starts with `#!`: an interpreter script, not a binary.
fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| start == *b"#!")
}

/// Drops the entry for `executable`: a worker contradicted it.
pub(crate) fn forget(executable: &Path) {
    if let (Some(dir), Some(key)) = (cache_dir(), ProbeKey::for_executable(executable)) {
        let _ = std::fs::remove_file(dir.join(key.file_name()));
    }
}

/// Where probe answers are kept.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PYCACHE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("pycache"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| PathBuf::from(home).join(".cache").join("pycache"))
}

pub(crate) fn load(key: &ProbeKey) -> Option<ProbeData> {
    load_from(&cache_dir()?, key)
}

fn load_from(dir: &Path, key: &ProbeKey) -> Option<ProbeData> {
    let path = dir.join(key.file_name());
    let bytes = std::fs::read(path).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.key == *key).then_some(entry.data)
}

pub(crate) fn store(key: &ProbeKey, data: &ProbeData) {
    if let Some(dir) = cache_dir() {
        // Best effort: a cache that cannot be written only costs a probe next time.
        let _ = store_in(&dir, key, data);
    }
}

/// Writes the entry for `key` in `dir` through a temporary file in `dir` renamed over it, so
/// a reader never sees half an entry; the temporary file is removed on every error path
/// (dropping the `NamedTempFile` deletes it).
fn store_in(dir: &Path, key: &ProbeKey, data: &ProbeData) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let entry = Entry {
        key: key.clone(),
        data: data.clone(),
    };
    let bytes = serde_json::to_vec(&entry)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!("{}.", key.file_name()))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temporary.write_all(&bytes)?;
    temporary.persist(dir.join(key.file_name()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
