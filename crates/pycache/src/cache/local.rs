//! The cache on this machine: one file per entry under a directory, shared by any number of
//! pycache processes.
//!
//! Layout: `DIR/<first two hex digits>/<64 hex digits>`. An entry is written to a temporary
//! file in its shard and renamed into place, so a reader sees a whole entry or none; two
//! processes storing one key write the same bytes, and the last rename wins. A hit sets the
//! entry's mtime to now (when it is more than an hour old): eviction removes the oldest mtimes
//! first (least recently used, to the hour).

use super::entry::{Entry, EntryError};
use super::key::CacheKey;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temporary files are named so; one older than this is debris of a killed process.
const TEMP_PREFIX: &str = ".tmp";
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);
/// A hit moves an entry's mtime to now only when it is older than this.
const REFRESH_AFTER: Duration = Duration::from_secs(3600);

/// A cache directory.
#[derive(Debug, Clone)]
pub struct LocalCache {
    dir: PathBuf,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// An intact entry.
    Hit(Entry),
    /// No entry for the key.
    Miss,
    /// An entry that could not be used; it was removed (the reason says why).
    Damaged(EntryError),
}

/// How much the cache holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheUsage {
    /// Entries.
    pub entries: u64,
    /// Bytes of their files.
    pub bytes: u64,
}

/// What [`LocalCache::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneReport {
    /// Entries (and leftover temporary files) removed.
    pub removed: u64,
    /// Bytes freed.
    pub freed: u64,
    /// What is left.
    pub left: CacheUsage,
}

struct Listed {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

impl LocalCache {
    /// The cache kept in `dir` (created when the first entry is stored).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, key: &CacheKey) -> PathBuf {
        let hex = key.to_hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// The entry for `key`. A damaged entry is removed and reported; a read error other than
    /// "not found" is a miss too (the cache never fails a build).
    pub fn get(&self, key: &CacheKey) -> Lookup {
        let path = self.path_of(key);
        let Ok(file) = std::fs::File::open(&path) else {
            return Lookup::Miss;
        };
        let Ok(metadata) = file.metadata() else {
            return Lookup::Miss;
        };
        // An entry never changes once renamed into place: its size is all there is to read.
        let Ok(bytes) = read_exactly(&file, metadata.len()) else {
            return Lookup::Miss;
        };
        match Entry::decode(&bytes, key) {
            Ok(entry) => {
                // Refresh the LRU clock when it is more than an hour behind (one system call
                // on the descriptor already open; most hits of a busy cache need none).
                let now = SystemTime::now();
                let used = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if now.duration_since(used).unwrap_or_default() > REFRESH_AFTER {
                    let _ = file.set_modified(now);
                }
                Lookup::Hit(entry)
            }
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Lookup::Damaged(error)
            }
        }
    }

    /// Stores `entry` under `key`, atomically.
    ///
    /// # Errors
    /// The I/O error that kept it from being stored (the cache is then only smaller).
    pub fn put(&self, key: &CacheKey, entry: &Entry) -> io::Result<()> {
        let path = self.path_of(key);
        let shard = path.parent().unwrap_or(&self.dir);
        let temporary = || {
            tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempfile_in(shard)
        };
        // The shard is made only when missing (most exist: this spares a mkdir and a stat).
        let mut file = match temporary() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(shard)?;
                temporary()?
            }
            other => other?,
        };
        file.write_all(&entry.encode(key))?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Every entry file, with its size and last use, and every temporary file.
    fn list(&self) -> io::Result<(Vec<Listed>, Vec<Listed>)> {
        let (mut entries, mut temps) = (Vec::new(), Vec::new());
        let shards = match std::fs::read_dir(&self.dir) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((entries, temps)),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            if !shard.file_type()?.is_dir() || shard.file_name().len() != 2 {
                continue;
            }
            for file in std::fs::read_dir(shard.path())? {
                let file = file?;
                let meta = file.metadata()?;
                let listed = Listed {
                    path: file.path(),
                    bytes: meta.len(),
                    used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                };
                let name = file.file_name();
                if name.as_encoded_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
                    temps.push(listed);
                } else if meta.is_file() && name.len() == 64 {
                    entries.push(listed);
                }
            }
        }
        Ok((entries, temps))
    }

    /// How many entries the cache holds, and their size.
    ///
    /// # Errors
    /// An error listing the directory (a missing directory is an empty cache).
    pub fn usage(&self) -> io::Result<CacheUsage> {
        let (entries, _) = self.list()?;
        Ok(usage_of(&entries))
    }

    /// Removes the least recently used entries until the cache holds at most `max_bytes`, and
    /// temporary files left by killed processes (older than an hour; a younger one may be
    /// being written).
    ///
    /// # Errors
    /// An error listing the directory; entries that vanish meanwhile are not errors.
    pub fn prune(&self, max_bytes: u64) -> io::Result<PruneReport> {
        let (mut entries, temps) = self.list()?;
        let mut report = PruneReport::default();
        let now = SystemTime::now();
        for temp in temps {
            let age = now.duration_since(temp.used).unwrap_or_default();
            if age > TEMP_MAX_AGE && remove(&temp.path) {
                report.removed += 1;
                report.freed += temp.bytes;
            }
        }
        entries.sort_by_key(|e| e.used);
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut kept = Vec::new();
        for entry in entries {
            if total > max_bytes && remove(&entry.path) {
                total -= entry.bytes;
                report.removed += 1;
                report.freed += entry.bytes;
            } else {
                kept.push(entry);
            }
        }
        report.left = usage_of(&kept);
        Ok(report)
    }

    /// Removes every entry (and the run statistics).
    ///
    /// # Errors
    /// The first error removing the directory, other than its being absent.
    pub fn clear(&self) -> io::Result<PruneReport> {
        let (entries, temps) = self.list()?;
        let freed = usage_of(&entries).bytes + usage_of(&temps).bytes;
        let removed = (entries.len() + temps.len()) as u64;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(PruneReport {
            removed,
            freed,
            left: CacheUsage::default(),
        })
    }
}

/// The first `len` bytes of `file` (its size), in one `read`: an entry never changes once it
/// is renamed into place, so no read is spent looking for more.
fn read_exactly(mut file: &std::fs::File, len: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut bytes = vec![0; len];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn usage_of(listed: &[Listed]) -> CacheUsage {
    CacheUsage {
        entries: listed.len() as u64,
        bytes: listed.iter().map(|e| e.bytes).sum(),
    }
}

/// Removes a file; true when this call removed it (another process may have first).
fn remove(path: &Path) -> bool {
    std::fs::remove_file(path).is_ok()
}
