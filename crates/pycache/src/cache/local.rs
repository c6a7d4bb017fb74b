//! The cache on this machine: entries packed into immutable files under one directory, shared
//! by any number of pycache processes.
//!
//! Layout: `DIR/packs/<name>.pack`. A run appends what it stores to one temporary pack file
//! (`DIR/packs/.tmp*`) and, when the run ends (or the pack reaches [`PACK_MAX_BYTES`]), writes
//! the pack's index and renames it into place: a reader sees whole packs or none, and a run
//! that stores ten thousand entries creates one file, not ten thousand. Names sort in the order
//! packs were finished; when two packs hold one key, the newer one is read.
//!
//! A pack is the entries' bytes ([`Entry::encode`], each with its own checksum), then the index
//! (per entry: key, offset, length; 48 bytes), then a footer: `PYCPACK\0`, [`PACK_FORMAT`]
//! (u32), 0 (u32), the entry count (u64), the index offset (u64) and the XXH3-128 of the index
//! (16 bytes), all little-endian.
//!
//! A lookup reads every pack's index once (lazily, at the first lookup) and then each entry with
//! one positioned read. A pack whose footer or index is damaged is removed when it is found;
//! a damaged entry is a miss, and when the run ends the pack holding it is rewritten without it
//! (its intact entries are copied into the run's new pack, then it is removed).
//!
//! Least recently used, by pack: a hit sets its pack's mtime to now (when it is more than an
//! hour old), and eviction removes the packs with the oldest mtimes first. Many small packs (many
//! runs that each compiled a few files) are merged into one when there are more than
//! [`MAX_PACKS`].

use super::entry::{Entry, EntryError};
use super::key::CacheKey;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

/// The version of the pack layout (the entries inside follow [`super::CACHE_FORMAT`]).
pub const PACK_FORMAT: u32 = 1;
const PACK_MAGIC: &[u8; 8] = b"PYCPACK\0";
const FOOTER: usize = 8 + 4 + 4 + 8 + 8 + 16;
const RECORD: usize = 32 + 8 + 8;
/// A pack is finished once it holds this many bytes or [`PACK_MAX_ENTRIES`] entries, so the
/// unit of eviction stays small against the 2 GiB default cap and a run's pending index small.
const PACK_MAX_BYTES: u64 = 64 << 20;
const PACK_MAX_ENTRIES: usize = 1 << 16;
/// More packs than this are merged, smallest first, down to [`MERGED_PACKS`].
const MAX_PACKS: usize = 64;
const MERGED_PACKS: usize = 48;
const PACKS: &str = "packs";
const PACK_SUFFIX: &str = ".pack";

/// Temporary files are named so; one older than this is debris of a killed process.
const TEMP_PREFIX: &str = ".tmp";
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);
/// A hit moves its pack's mtime to now only when it is older than this.
const REFRESH_AFTER: Duration = Duration::from_secs(3600);

/// A cache directory, and what this process has read of it and is storing into it.
#[derive(Debug)]
pub struct LocalCache {
    dir: PathBuf,
    /// Every pack's index, read at the first lookup.
    index: OnceLock<Index>,
    /// The pack being written, created at the first store.
    writer: Mutex<Option<PackWriter>>,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// An intact entry.
    Hit(Entry),
    /// No entry for the key.
    Miss,
    /// An entry that could not be used; its pack is rewritten without it when the run ends
    /// (the reason says why).
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

/// Every pack's entries, as read at the first lookup.
#[derive(Debug, Default)]
struct Index {
    packs: Vec<Pack>,
    places: HashMap<CacheKey, Place>,
}

/// One pack file, kept open so that another process's eviction cannot take it away mid-run.
#[derive(Debug)]
struct Pack {
    path: PathBuf,
    file: File,
    /// Its mtime when read (last use).
    used: SystemTime,
    refreshed: AtomicBool,
    /// Set when one of its entries is found damaged: rewritten when the run ends.
    damaged: AtomicBool,
}

/// Where an entry is.
#[derive(Debug, Clone, Copy)]
struct Place {
    pack: u32,
    offset: u64,
    len: u64,
}

/// The pack a process is writing.
#[derive(Debug)]
struct PackWriter {
    file: tempfile::NamedTempFile,
    places: HashMap<CacheKey, (u64, u64)>,
    written: u64,
}

/// A pack file found by listing, with its size and last use.
#[derive(Debug)]
struct Listed {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

impl LocalCache {
    /// The cache kept in `dir` (created when the first entry is stored).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalCache {
            dir: dir.into(),
            index: OnceLock::new(),
            writer: Mutex::new(None),
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn packs_dir(&self) -> PathBuf {
        self.dir.join(PACKS)
    }

    /// The entry for `key`. A damaged entry is reported (and its pack rewritten without it when
    /// the run ends); a read error is a miss too (the cache never fails a build).
    pub fn get(&self, key: &CacheKey) -> Lookup {
        let index = self.index.get_or_init(|| Index::load(&self.packs_dir()));
        if let Some(place) = index.places.get(key) {
            let pack = &index.packs[place.pack as usize];
            let Ok(bytes) = read_at(&pack.file, place.offset, place.len) else {
                return Lookup::Miss;
            };
            return match Entry::decode(&bytes, key) {
                Ok(entry) => {
                    pack.refresh();
                    Lookup::Hit(entry)
                }
                Err(error) => {
                    pack.damaged.store(true, Ordering::Relaxed);
                    Lookup::Damaged(error)
                }
            };
        }
        // What this process stored, in the pack it is writing.
        let writer = self.writer();
        let Some((file, (offset, len))) = writer
            .as_ref()
            .and_then(|w| Some((w.file.as_file(), *w.places.get(key)?)))
        else {
            return Lookup::Miss;
        };
        match read_at(file, offset, len).map(|bytes| Entry::decode(&bytes, key)) {
            Ok(Ok(entry)) => Lookup::Hit(entry),
            _ => Lookup::Miss,
        }
    }

    fn writer(&self) -> MutexGuard<'_, Option<PackWriter>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `entry` under `key`: appended to this process's pack, which others see once it
    /// is finished ([`LocalCache::flush`], at the latest when `self` is dropped).
    ///
    /// # Errors
    /// The I/O error that kept it from being stored (the cache is then only smaller).
    pub fn put(&self, key: &CacheKey, entry: &Entry) -> io::Result<()> {
        self.put_bytes(key, &entry.encode(key))
    }

    /// Stores bytes already checked to be an intact entry for `key` ([`Entry::decode`] gave
    /// `Ok`): what a remote gave, kept without encoding it again.
    ///
    /// # Errors
    /// As [`LocalCache::put`].
    pub fn put_encoded(&self, key: &CacheKey, bytes: &[u8]) -> io::Result<()> {
        self.put_bytes(key, bytes)
    }

    fn put_bytes(&self, key: &CacheKey, bytes: &[u8]) -> io::Result<()> {
        let mut writer = self.writer();
        let current = match writer.as_mut() {
            Some(current) => current,
            None => writer.insert(PackWriter::create(&self.packs_dir())?),
        };
        if let Err(error) = current.append(key, bytes) {
            // What it holds may end in a partial entry: given up (its temporary file removed).
            *writer = None;
            return Err(error);
        }
        if current.written >= PACK_MAX_BYTES || current.places.len() >= PACK_MAX_ENTRIES {
            let full = writer.take();
            drop(writer);
            if let Some(full) = full {
                full.finish(&self.packs_dir())?;
            }
        }
        Ok(())
    }

    /// Finishes the pack being written, after copying into it the intact entries of packs
    /// found damaged (which are then removed), so that other processes see what was stored.
    ///
    /// # Errors
    /// The I/O error that kept the pack from being written (its entries are then lost).
    pub fn flush(&self) -> io::Result<()> {
        if let Some(index) = self.index.get() {
            for (number, pack) in index.packs.iter().enumerate() {
                if pack.damaged.swap(false, Ordering::Relaxed) {
                    self.salvage(index, number)?;
                    let _ = std::fs::remove_file(&pack.path);
                }
            }
        }
        let pending = self.writer().take();
        match pending {
            Some(writer) => writer.finish(&self.packs_dir()).map(drop),
            None => Ok(()),
        }
    }

    /// Copies the intact entries of pack `number` that nothing newer holds into the pack being
    /// written.
    fn salvage(&self, index: &Index, number: usize) -> io::Result<()> {
        let pack = &index.packs[number];
        let Ok(records) = read_index(&pack.file) else {
            return Ok(());
        };
        for (key, offset, len) in records {
            let current = index.places.get(&key).map(|p| p.pack as usize);
            if current != Some(number) {
                continue;
            }
            if let Ok(bytes) = read_at(&pack.file, offset, len)
                && Entry::decode(&bytes, &key).is_ok()
            {
                self.put_bytes(&key, &bytes)?;
            }
        }
        Ok(())
    }

    /// Every pack file (with its size and last use), every temporary file, and the shard
    /// directories of the one-file-per-entry layout of pycache 0.x (format 1 before packs).
    fn list(&self) -> io::Result<(Vec<Listed>, Vec<Listed>, Vec<PathBuf>)> {
        let (mut packs, mut temps, mut shards) = (Vec::new(), Vec::new(), Vec::new());
        match std::fs::read_dir(&self.dir) {
            Ok(top) => {
                for item in top {
                    let item = item?;
                    let name = item.file_name();
                    let is_shard = name.len() == 2
                        && name.as_encoded_bytes().iter().all(u8::is_ascii_hexdigit);
                    if is_shard && item.file_type()?.is_dir() {
                        shards.push(item.path());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let files = match std::fs::read_dir(self.packs_dir()) {
            Ok(files) => files,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((packs, temps, shards)),
            Err(e) => return Err(e),
        };
        for file in files {
            let file = file?;
            let name = file.file_name();
            let name = name.as_encoded_bytes();
            let Ok(meta) = file.metadata() else {
                continue; // removed meanwhile
            };
            let listed = Listed {
                path: file.path(),
                bytes: meta.len(),
                used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            };
            if name.starts_with(TEMP_PREFIX.as_bytes()) {
                temps.push(listed);
            } else if meta.is_file() && name.ends_with(PACK_SUFFIX.as_bytes()) {
                packs.push(listed);
            }
        }
        Ok((packs, temps, shards))
    }

    /// How many entries the cache holds, and the size of their packs.
    ///
    /// # Errors
    /// An error listing the directory (a missing directory is an empty cache).
    pub fn usage(&self) -> io::Result<CacheUsage> {
        let (packs, _, _) = self.list()?;
        Ok(usage_of(&packs))
    }

    /// Removes the least recently used packs until the cache holds at most `max_bytes`,
    /// temporary files left by killed processes (older than an hour; a younger one may be being
    /// written) and the entries of pycache's earlier one-file-per-entry layout; then, when there
    /// are more than [`MAX_PACKS`] packs, merges the smallest.
    ///
    /// # Errors
    /// An error listing the directory; files that vanish meanwhile are not errors.
    pub fn prune(&self, max_bytes: u64) -> io::Result<PruneReport> {
        self.flush()?;
        let (mut packs, temps, shards) = self.list()?;
        let mut report = PruneReport::default();
        let now = SystemTime::now();
        for temp in temps {
            let age = now.duration_since(temp.used).unwrap_or_default();
            if age > TEMP_MAX_AGE && remove(&temp.path) {
                report.removed += 1;
                report.freed += temp.bytes;
            }
        }
        for shard in shards {
            let (files, bytes) = old_shard_usage(&shard);
            if std::fs::remove_dir_all(&shard).is_ok() {
                report.removed += files;
                report.freed += bytes;
            }
        }
        packs.sort_by_key(|p| p.used);
        let mut total: u64 = packs.iter().map(|p| p.bytes).sum();
        let mut kept = Vec::new();
        for pack in packs {
            if total > max_bytes {
                let entries = pack_entries(&pack.path);
                if remove(&pack.path) {
                    total -= pack.bytes;
                    report.removed += entries;
                    report.freed += pack.bytes;
                    continue;
                }
            }
            kept.push(pack);
        }
        if kept.len() > MAX_PACKS {
            kept = self.merge(kept)?;
        }
        report.left = usage_of(&kept);
        Ok(report)
    }

    /// Merges the smallest of `packs` (those under a quarter of [`PACK_MAX_BYTES`]) into one,
    /// leaving [`MERGED_PACKS`] when they are enough; what is left.
    fn merge(&self, mut packs: Vec<Listed>) -> io::Result<Vec<Listed>> {
        packs.sort_by_key(|p| p.bytes);
        let small = packs
            .iter()
            .take_while(|p| p.bytes < PACK_MAX_BYTES / 4)
            .count();
        let merged = small.min(packs.len() - MERGED_PACKS + 1);
        if merged < 2 {
            return Ok(packs);
        }
        let rest = packs.split_off(merged);
        let merger = LocalCache::new(&self.dir);
        let mut used = SystemTime::UNIX_EPOCH;
        for pack in &packs {
            let Ok(file) = File::open(&pack.path) else {
                continue;
            };
            for (key, offset, len) in read_index(&file).unwrap_or_default() {
                if let Ok(bytes) = read_at(&file, offset, len)
                    && Entry::decode(&bytes, &key).is_ok()
                {
                    merger.put_bytes(&key, &bytes)?;
                }
            }
            used = used.max(pack.used);
        }
        let merged = merger.writer().take();
        let mut left = rest;
        if let Some(writer) = merged {
            let path = writer.finish(&self.packs_dir())?;
            if let Ok(file) = File::options().write(true).open(&path) {
                let _ = file.set_modified(used);
            }
            for pack in &packs {
                remove(&pack.path);
            }
            if let Ok(meta) = std::fs::metadata(&path) {
                left.push(Listed {
                    path,
                    bytes: meta.len(),
                    used,
                });
            }
        }
        Ok(left)
    }

    /// Removes every entry (and the run statistics).
    ///
    /// # Errors
    /// The first error removing the directory, other than its being absent.
    pub fn clear(&self) -> io::Result<PruneReport> {
        let (packs, temps, shards) = self.list()?;
        let held = usage_of(&packs);
        let mut report = PruneReport {
            removed: held.entries + temps.len() as u64,
            freed: held.bytes + temps.iter().map(|t| t.bytes).sum::<u64>(),
            left: CacheUsage::default(),
        };
        for shard in shards {
            let (files, bytes) = old_shard_usage(&shard);
            report.removed += files;
            report.freed += bytes;
        }
        *self.writer() = None;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(report)
    }
}

impl Drop for LocalCache {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl Index {
    /// The index of every pack in `packs_dir`, newer packs taking precedence; packs that are
    /// not whole are removed.
    fn load(packs_dir: &Path) -> Index {
        let mut index = Index::default();
        let Ok(files) = std::fs::read_dir(packs_dir) else {
            return index;
        };
        let mut paths: Vec<PathBuf> = files
            .flatten()
            .filter(|f| {
                let name = f.file_name();
                let name = name.as_encoded_bytes();
                name.ends_with(PACK_SUFFIX.as_bytes()) && !name.starts_with(TEMP_PREFIX.as_bytes())
            })
            .map(|f| f.path())
            .collect();
        paths.sort();
        for path in paths {
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let (records, used) = match (read_index(&file), file.metadata()) {
                (Ok(records), Ok(meta)) => {
                    (records, meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
                }
                (Err(PackError::Damaged), _) => {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                _ => continue,
            };
            let pack = index.packs.len() as u32;
            for (key, offset, len) in records {
                index.places.insert(key, Place { pack, offset, len });
            }
            index.packs.push(Pack {
                path,
                file,
                used,
                refreshed: AtomicBool::new(false),
                damaged: AtomicBool::new(false),
            });
        }
        index
    }
}

impl Pack {
    /// Moves the pack's mtime to now, once per run, when it is more than an hour behind.
    fn refresh(&self) {
        let now = SystemTime::now();
        if now.duration_since(self.used).unwrap_or_default() > REFRESH_AFTER
            && !self.refreshed.swap(true, Ordering::Relaxed)
        {
            let _ = self.file.set_modified(now);
        }
    }
}

impl PackWriter {
    fn create(packs_dir: &Path) -> io::Result<Self> {
        let temporary = || {
            tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempfile_in(packs_dir)
        };
        let file = match temporary() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(packs_dir)?;
                temporary()?
            }
            other => other?,
        };
        Ok(PackWriter {
            file,
            places: HashMap::new(),
            written: 0,
        })
    }

    fn append(&mut self, key: &CacheKey, bytes: &[u8]) -> io::Result<()> {
        if self.places.contains_key(key) {
            return Ok(());
        }
        self.file.as_file_mut().write_all(bytes)?;
        let len = bytes.len() as u64;
        self.places.insert(*key, (self.written, len));
        self.written += len;
        Ok(())
    }

    /// Writes the index and the footer and renames the pack into place; its path.
    fn finish(mut self, packs_dir: &Path) -> io::Result<PathBuf> {
        let mut records: Vec<_> = self.places.iter().collect();
        records.sort_by_key(|(_, (offset, _))| *offset);
        let mut index = Vec::with_capacity(records.len() * RECORD + FOOTER);
        for (key, (offset, len)) in records {
            index.extend_from_slice(key.as_bytes());
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&len.to_le_bytes());
        }
        let digest = xxh3_128(&index);
        index.extend_from_slice(PACK_MAGIC);
        index.extend_from_slice(&PACK_FORMAT.to_le_bytes());
        index.extend_from_slice(&0u32.to_le_bytes());
        index.extend_from_slice(&(self.places.len() as u64).to_le_bytes());
        index.extend_from_slice(&self.written.to_le_bytes());
        index.extend_from_slice(&digest);
        self.file.as_file_mut().write_all(&index)?;
        let path = packs_dir.join(pack_name());
        self.file.persist_noclobber(&path).map_err(|e| e.error)?;
        Ok(path)
    }
}

/// A new pack's name: the time, then the process and a counter, so that names sort in the order
/// packs were finished and never collide.
fn pack_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:024}-{}-{count}{PACK_SUFFIX}", std::process::id())
}

/// Why a pack's index could not be read.
#[derive(Debug)]
enum PackError {
    /// Reading failed (the pack may be fine).
    Io,
    /// Not a whole pack of this format: removed.
    Damaged,
}

/// The records of the pack open as `file`: key, offset and length of each entry.
fn read_index(file: &File) -> Result<Vec<(CacheKey, u64, u64)>, PackError> {
    let size = file.metadata().map_err(|_| PackError::Io)?.len();
    if size < FOOTER as u64 {
        return Err(PackError::Damaged);
    }
    let footer = read_at(file, size - FOOTER as u64, FOOTER as u64).map_err(|_| PackError::Io)?;
    let u64_at = |at: usize| u64::from_le_bytes(footer[at..at + 8].try_into().unwrap_or([0; 8]));
    if &footer[..8] != PACK_MAGIC || footer[8..12] != PACK_FORMAT.to_le_bytes() {
        return Err(PackError::Damaged);
    }
    let (count, index_offset) = (u64_at(16), u64_at(24));
    let index_len = count.checked_mul(RECORD as u64);
    if index_len.and_then(|len| len.checked_add(index_offset)) != Some(size - FOOTER as u64) {
        return Err(PackError::Damaged);
    }
    let index = read_at(file, index_offset, size - FOOTER as u64 - index_offset)
        .map_err(|_| PackError::Io)?;
    if xxh3_128(&index)[..] != footer[32..48] {
        return Err(PackError::Damaged);
    }
    index
        .chunks_exact(RECORD)
        .map(|record| {
            let key: [u8; 32] = record[..32].try_into().unwrap_or([0; 32]);
            let offset = u64::from_le_bytes(record[32..40].try_into().unwrap_or([0; 8]));
            let len = u64::from_le_bytes(record[40..48].try_into().unwrap_or([0; 8]));
            match offset.checked_add(len) {
                Some(end) if end <= index_offset => Ok((CacheKey::from_bytes(key), offset, len)),
                _ => Err(PackError::Damaged),
            }
        })
        .collect()
}

/// The checksum of a pack's index (see [`Entry`] for why not a cryptographic one).
fn xxh3_128(bytes: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(bytes).to_le_bytes()
}

/// `len` bytes of `file` from `offset`, in one positioned read (a pack never changes once
/// renamed into place).
fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, offset)?;
    Ok(bytes)
}

/// The number of entries a pack's footer declares (0 when it cannot be read).
fn pack_entries(path: &Path) -> u64 {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let Ok(size) = file.metadata().map(|m| m.len()) else {
        return 0;
    };
    match size.checked_sub(FOOTER as u64) {
        Some(at) => read_at(&file, at, FOOTER as u64)
            .ok()
            .filter(|footer| &footer[..8] == PACK_MAGIC)
            .map_or(0, |footer| {
                u64::from_le_bytes(footer[16..24].try_into().unwrap_or([0; 8]))
            }),
        None => 0,
    }
}

/// What `packs` hold: the keys they have (a key in two packs, stored by two processes at once,
/// counts once) and their size.
fn usage_of(packs: &[Listed]) -> CacheUsage {
    let mut keys = std::collections::HashSet::new();
    for pack in packs {
        if let Ok(records) = File::open(&pack.path)
            .map_err(|_| PackError::Io)
            .and_then(|file| read_index(&file))
        {
            keys.extend(records.into_iter().map(|(key, _, _)| key));
        }
    }
    CacheUsage {
        entries: keys.len() as u64,
        bytes: packs.iter().map(|p| p.bytes).sum(),
    }
}

/// The files and bytes in a shard directory of the one-file-per-entry layout.
fn old_shard_usage(shard: &Path) -> (u64, u64) {
    std::fs::read_dir(shard)
        .map(|files| {
            files.flatten().fold((0, 0), |(count, bytes), file| {
                let len = file.metadata().map_or(0, |m| m.len());
                (count + 1, bytes + len)
            })
        })
        .unwrap_or_default()
}

/// Removes a file; true when this call removed it (another process may have first).
fn remove(path: &Path) -> bool {
    std::fs::remove_file(path).is_ok()
}
