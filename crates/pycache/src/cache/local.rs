//! The cache on this machine: entries packed into immutable files under one directory, shared
//! by any number of pycache processes.
//!
//! Layout: `DIR/packs/<name>.pack`. A run appends what it stores to one temporary pack file
//! (`DIR/packs/.tmp*`, locked while it is written) and, when the run ends (or the pack reaches
//! its size, at most [`PACK_MAX_BYTES`]), writes the pack's index and renames it into place: a
//! reader sees whole packs or none, and a run that stores ten thousand entries creates one file,
//! not ten thousand. Names sort in the order packs were finished; when two packs hold one key,
//! the newer one is read. A process killed without unwinding (SIGKILL) loses what it stored
//! since its last finished pack.
//!
//! A pack is the entries' bytes ([`Entry::encode`], each with its own checksum), then the index
//! (per entry: key, offset, length; 48 bytes), then a footer: `PYCPACK\0`, [`PACK_FORMAT`]
//! (u32), 0 (u32), the entry count (u64), the index offset (u64) and the XXH3-128 of the index
//! (16 bytes), all little-endian.
//!
//! A lookup reads every pack's index once (lazily, at the first lookup) and then each entry with
//! a positioned read (`pread`, repeated only after a short read). A file named like a pack that
//! is not a whole pack (a footer or index that does not check) is removed when it is found; a
//! pack of another pack format (another pycache) is left alone, never read, and ages out. A
//! damaged entry is a miss; when the run ends, its intact neighbours are copied into the run's
//! new pack, and once that is written the damaged pack is removed.
//!
//! Least recently used, by pack: a hit sets its pack's mtime to now (when it is more than an
//! hour old), and eviction removes the packs with the oldest mtimes first. Packs are made small
//! against small caps (a sixteenth of the cap), so that eviction stays fine-grained. Many small
//! packs (many runs that each compiled a few files) are merged into one when there are more
//! than [`MAX_PACKS`].

use super::entry::{Entry, EntryBuf, EntryError, EntryView};
use super::key::CacheKey;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

/// The version of the pack layout (the entries inside follow [`super::CACHE_FORMAT`]).
const PACK_FORMAT: u32 = 1;
const PACK_MAGIC: &[u8; 8] = b"PYCPACK\0";
const FOOTER: usize = 8 + 4 + 4 + 8 + 8 + 16;
const RECORD: usize = 32 + 8 + 8;
/// A pack is finished once it holds this many bytes (less under a small cap: see
/// [`pack_size_for`]) or [`PACK_MAX_ENTRIES`] entries, so the unit of eviction stays small and
/// a run's pending index too.
const PACK_MAX_BYTES: u64 = 64 << 20;
const PACK_MIN_BYTES: u64 = 256 << 10;
const PACK_MAX_ENTRIES: usize = 1 << 16;
/// More packs than this are merged, smallest first, down to [`MERGED_PACKS`].
const MAX_PACKS: usize = 64;
const MERGED_PACKS: usize = 48;
/// Packs whose file a run keeps open (the newest); older ones are opened for each read, so that
/// a very large cache does not take the descriptors that sources and pycs need.
const OPEN_PACKS: usize = 32;
const PACKS: &str = "packs";
const PACK_SUFFIX: &str = ".pack";

/// Temporary files are named so; one older than this, and not locked, is debris of a killed
/// process.
const TEMP_PREFIX: &str = ".tmp";
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);
/// A hit moves its pack's mtime to now only when it is older than this.
const REFRESH_AFTER: Duration = Duration::from_secs(3600);

/// A cache directory, and what this process has read of it and is storing into it.
#[derive(Debug)]
pub struct LocalCache {
    dir: PathBuf,
    /// The size at which a pack being written is finished.
    pack_bytes: u64,
    /// Every pack's index, read at the first lookup.
    index: OnceLock<Index>,
    /// The pack being written, created at the first store.
    writer: Mutex<Option<PackWriter>>,
    /// The packs this process finished, which the index read before them does not hold.
    finished: Mutex<Vec<Finished>>,
}

/// A pack this process wrote: still readable by it.
#[derive(Debug)]
struct Finished {
    path: PathBuf,
    file: File,
    places: HashMap<CacheKey, (u64, u64)>,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup<T = Entry> {
    /// An intact entry (or what was made of it: [`LocalCache::get_with`], [`Lookup::map`]).
    Hit(T),
    /// No entry for the key.
    Miss,
    /// An entry that could not be used; its pack is rewritten without it when the run ends
    /// (the reason says why).
    Damaged(EntryError),
}

impl<T> Lookup<T> {
    /// The hit made into `f`'s result; a miss or damage as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Lookup::Hit(hit) => Lookup::Hit(f(hit)),
            Lookup::Miss => Lookup::Miss,
            Lookup::Damaged(error) => Lookup::Damaged(error),
        }
    }
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

/// One pack file, kept open (the newest [`OPEN_PACKS`]) so that another process's eviction
/// cannot take it away mid-run.
#[derive(Debug)]
struct Pack {
    path: PathBuf,
    /// Open, or `None` for the older packs of a very large cache: opened for each read.
    file: Option<File>,
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

/// An index record: an entry's key, offset and length in its pack.
type Record = (CacheKey, u64, u64);

/// The pack a process is writing.
#[derive(Debug)]
struct PackWriter {
    file: tempfile::NamedTempFile,
    places: HashMap<CacheKey, (u64, u64)>,
    written: u64,
}

/// A file found by listing, with its size and last use.
#[derive(Debug)]
struct Listed {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

/// What listing a cache directory found.
#[derive(Debug, Default)]
struct Found {
    packs: Vec<Listed>,
    temps: Vec<Listed>,
    /// The shard directories of the one-file-per-entry layout that came before packs.
    old_shards: Vec<PathBuf>,
}

/// The pack size for a cache kept under `max_bytes`: a sixteenth of it, within
/// [`PACK_MIN_BYTES`] and [`PACK_MAX_BYTES`].
fn pack_size_for(max_bytes: u64) -> u64 {
    (max_bytes / 16).clamp(PACK_MIN_BYTES, PACK_MAX_BYTES)
}

impl LocalCache {
    /// The cache kept in `dir` (created when the first entry is stored).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalCache {
            dir: dir.into(),
            pack_bytes: PACK_MAX_BYTES,
            index: OnceLock::new(),
            writer: Mutex::new(None),
            finished: Mutex::new(Vec::new()),
        }
    }

    /// The same cache, writing packs sized for a cap of `max_bytes` (a sixteenth of it, at most
    /// 64 MiB), so that eviction under a small cap does not take a whole run's entries at once.
    pub fn with_max_size(mut self, max_bytes: u64) -> Self {
        self.pack_bytes = pack_size_for(max_bytes);
        self
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
        self.get_with(key, |entry| entry.to_entry())
    }

    /// As [`LocalCache::get`], with `use_entry` given the entry in place (its payload not
    /// copied out of the bytes read).
    pub fn get_with<T>(
        &self,
        key: &CacheKey,
        use_entry: impl FnOnce(EntryView<'_>) -> T,
    ) -> Lookup<T> {
        self.get_buf(key).map(|entry| use_entry(entry.view()))
    }

    /// The entry for `key` in the buffer it was read into (as [`LocalCache::get_with`]).
    pub fn get_buf(&self, key: &CacheKey) -> Lookup<EntryBuf> {
        let Some((bytes, pack)) = self.read_entry(key) else {
            return Lookup::Miss;
        };
        match EntryBuf::new(bytes, key) {
            Ok(entry) => {
                pack.inspect(|pack| pack.refresh());
                Lookup::Hit(entry)
            }
            Err(error) => match pack {
                Some(pack) => {
                    pack.damaged.store(true, Ordering::Relaxed);
                    Lookup::Damaged(error)
                }
                // Written by this process: no damage to repair.
                None => Lookup::Miss,
            },
        }
    }

    /// True when the cache holds no entry at all (no pack, nothing stored by this process):
    /// every lookup would miss.
    pub fn is_empty(&self) -> bool {
        self.index().places.is_empty() && self.writer().is_none() && self.finished().is_empty()
    }

    /// The stored bytes of the entry for `key`, when intact (as [`Entry::encode`] gave them):
    /// what a bundle for the remote is made of.
    pub fn get_encoded(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let (bytes, _) = self.read_entry(key)?;
        Entry::check(&bytes, key).ok()?;
        Some(bytes)
    }

    /// The bytes stored for `key` (not yet checked), and the pack of the index they are in
    /// (`None` for what this process stored); `None` when there are none or they cannot be read.
    fn read_entry(&self, key: &CacheKey) -> Option<(Vec<u8>, Option<&Pack>)> {
        let index = self.index();
        if let Some(place) = index.places.get(key) {
            let pack = &index.packs[place.pack as usize];
            let bytes = pack.with_file(|file| read_at(file, place.offset, place.len));
            return Some((bytes.ok()?, Some(pack)));
        }
        // What this process stored: in the pack it is writing, or in one it finished.
        let writer = self.writer();
        if let Some(writer) = writer.as_ref()
            && let Some(&(offset, len)) = writer.places.get(key)
        {
            return Some((read_at(writer.file.as_file(), offset, len).ok()?, None));
        }
        drop(writer);
        let finished = self.finished();
        let done = finished.iter().find_map(|done| {
            let &(offset, len) = done.places.get(key)?;
            Some((&done.file, offset, len))
        })?;
        Some((read_at(done.0, done.1, done.2).ok()?, None))
    }

    /// Every pack's index, read at the first lookup.
    fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::load(&self.packs_dir()))
    }

    fn finished(&self) -> MutexGuard<'_, Vec<Finished>> {
        self.finished.lock().unwrap_or_else(|e| e.into_inner())
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
        self.put_encoded(key, &entry.encode(key))
    }

    /// Stores `bytes`, an entry for `key` as [`Entry::encode`] gives it (encoded once for
    /// both caches, or as a remote gave it, checked by [`Entry::decode`]).
    ///
    /// # Errors
    /// As [`LocalCache::put`].
    pub fn put_encoded(&self, key: &CacheKey, bytes: &[u8]) -> io::Result<()> {
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
        if current.written >= self.pack_bytes || current.places.len() >= PACK_MAX_ENTRIES {
            let full = writer.take();
            drop(writer);
            if let Some(full) = full {
                let done = full.finish(&self.packs_dir(), None)?;
                self.finished().push(done);
            }
        }
        Ok(())
    }

    /// Finishes the pack being written, so that other processes see what was stored; first
    /// the intact entries of packs found damaged are copied into it, and once it is written
    /// those packs are removed.
    ///
    /// # Errors
    /// The I/O error that kept the pack from being written (its entries are then lost, and
    /// the damaged packs stay).
    pub fn flush(&self) -> io::Result<()> {
        let mut salvaged = Vec::new();
        if let Some(index) = self.index.get() {
            for (number, pack) in index.packs.iter().enumerate() {
                if pack.damaged.swap(false, Ordering::Relaxed) && self.salvage(index, number)? {
                    salvaged.push(&pack.path);
                }
            }
        }
        let pending = self.writer().take();
        if let Some(writer) = pending {
            let done = writer.finish(&self.packs_dir(), None)?;
            self.finished().push(done);
        }
        for path in salvaged {
            remove(path);
        }
        Ok(())
    }

    /// Copies the intact entries of pack `number` that nothing newer holds into the pack being
    /// written; false when the pack could not be opened (it is then left as it is).
    fn salvage(&self, index: &Index, number: usize) -> io::Result<bool> {
        // The index loaded holds the places of those entries (a pack never changes once in
        // place): no need to read the pack's own index again.
        let mut places: Vec<(&CacheKey, &Place)> = (index.places.iter())
            .filter(|(_, place)| place.pack as usize == number)
            .collect();
        places.sort_unstable_by_key(|(_, place)| place.offset);
        let copied = index.packs[number].with_file(|file| {
            Ok(places.iter().try_for_each(|(key, place)| {
                match read_at(file, place.offset, place.len) {
                    Ok(bytes) if Entry::check(&bytes, key).is_ok() => self.put_encoded(key, &bytes),
                    _ => Ok(()),
                }
            }))
        });
        match copied {
            Ok(copied) => copied.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Every pack file (with its size and last use), every temporary file, and the shard
    /// directories of the one-file-per-entry layout that came before packs.
    fn list(&self) -> io::Result<Found> {
        let mut found = Found::default();
        match std::fs::read_dir(&self.dir) {
            Ok(top) => {
                for item in top {
                    let item = item?;
                    let name = item.file_name();
                    if is_hex(name.as_encoded_bytes(), 2) && item.file_type()?.is_dir() {
                        found.old_shards.push(item.path());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let files = match std::fs::read_dir(self.packs_dir()) {
            Ok(files) => files,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e),
        };
        for file in files {
            let file = file?;
            let name = file.file_name();
            let Ok(meta) = file.metadata() else {
                continue; // removed meanwhile
            };
            let listed = Listed {
                path: file.path(),
                bytes: meta.len(),
                used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            };
            match PackName::of(name.as_encoded_bytes()) {
                PackName::Temporary => found.temps.push(listed),
                PackName::Pack if meta.is_file() => found.packs.push(listed),
                _ => {}
            }
        }
        Ok(found)
    }

    /// How many entries the cache holds, and the size of their packs.
    ///
    /// # Errors
    /// An error listing the directory (a missing directory is an empty cache).
    pub fn usage(&self) -> io::Result<CacheUsage> {
        Ok(usage_of(&self.list()?.packs))
    }

    /// Removes the least recently used packs until the cache holds at most `max_bytes`,
    /// temporary files left by killed processes (older than an hour, and not locked by a
    /// process writing them) and the entries of pycache's earlier one-file-per-entry layout;
    /// then, when there are more than `MAX_PACKS` packs, merges the smallest. What this
    /// process stored is written first.
    ///
    /// # Errors
    /// An error listing the directory, or writing what this process stored (the rest is done
    /// all the same); files that vanish meanwhile are not errors.
    pub fn prune(&self, max_bytes: u64) -> io::Result<PruneReport> {
        let (mut report, kept) = self.keep_under(max_bytes)?;
        report.left = usage_of(&kept);
        Ok(report)
    }

    /// [`LocalCache::prune`] without counting what is left (which reads every index): what a
    /// run does when it ends.
    ///
    /// # Errors
    /// As [`LocalCache::prune`].
    pub fn prune_quietly(&self, max_bytes: u64) -> io::Result<()> {
        self.keep_under(max_bytes).map(drop)
    }

    fn keep_under(&self, max_bytes: u64) -> io::Result<(PruneReport, Vec<Listed>)> {
        let flushed = self.flush();
        let found = self.list()?;
        let mut report = PruneReport::default();
        let now = SystemTime::now();
        for temp in found.temps {
            let age = now.duration_since(temp.used).unwrap_or_default();
            if age > TEMP_MAX_AGE && !is_locked(&temp.path) && remove(&temp.path) {
                report.removed += 1;
                report.freed += temp.bytes;
            }
        }
        for shard in found.old_shards {
            let (files, bytes) = remove_old_shard(&shard);
            report.removed += files;
            report.freed += bytes;
        }
        let mut packs = found.packs;
        packs.sort_by_key(|p| p.used);
        let mut total: u64 = packs.iter().map(|p| p.bytes).sum();
        let mut kept = Vec::new();
        for pack in packs {
            if total > max_bytes {
                let entries = pack_entries(&pack);
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
            kept = self.merge(kept, pack_size_for(max_bytes))?;
        }
        flushed?;
        Ok((report, kept))
    }

    /// Merges the smallest of `packs` (each under a quarter of `pack_bytes`, together at most
    /// `pack_bytes`) into one, leaving [`MERGED_PACKS`] when they are enough; what is left. A
    /// pack is removed only once all its entries are in the merged pack, which keeps the
    /// newest mtime of those it replaces.
    fn merge(&self, mut packs: Vec<Listed>, pack_bytes: u64) -> io::Result<Vec<Listed>> {
        packs.sort_by_key(|p| p.bytes);
        let wanted = packs.len() - MERGED_PACKS + 1;
        let mut total = 0;
        let small = packs
            .iter()
            .take(wanted)
            .take_while(|p| {
                total += p.bytes;
                p.bytes < pack_bytes / 4 && total <= pack_bytes
            })
            .count();
        if small < 2 {
            return Ok(packs);
        }
        let mut left = packs.split_off(small);
        let mut writer = PackWriter::create(&self.packs_dir())?;
        let mut copied = Vec::new();
        let mut used = SystemTime::UNIX_EPOCH;
        for pack in packs {
            // Entries are copied as they are (checked when they are read): a pack of another
            // pycache's format, or one that cannot be read now, is not merged.
            let Ok(file) = File::open(&pack.path) else {
                left.push(pack);
                continue;
            };
            let Ok(records) = read_index(&file, pack.bytes) else {
                left.push(pack);
                continue;
            };
            for (key, offset, len) in records {
                writer.append(&key, &read_at(&file, offset, len)?)?;
            }
            used = used.max(pack.used);
            copied.push(pack);
        }
        if copied.is_empty() {
            return Ok(left);
        }
        let path = writer.finish(&self.packs_dir(), Some(used))?.path;
        for pack in &copied {
            remove(&pack.path);
        }
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        left.push(Listed { path, bytes, used });
        Ok(left)
    }

    /// Removes every entry (and the run statistics).
    ///
    /// # Errors
    /// The first error removing the directory, other than its being absent.
    pub fn clear(&self) -> io::Result<PruneReport> {
        let found = self.list()?;
        let held = usage_of(&found.packs);
        let mut report = PruneReport {
            removed: held.entries + found.temps.len() as u64,
            freed: held.bytes + found.temps.iter().map(|t| t.bytes).sum::<u64>(),
            left: CacheUsage::default(),
        };
        for (_, len) in found.old_shards.iter().flat_map(|s| old_shard_files(s)) {
            report.removed += 1;
            report.freed += len;
        }
        *self.writer() = None;
        self.finished().clear();
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

/// What a file in the packs directory is, by its name.
enum PackName {
    Pack,
    Temporary,
    Other,
}

impl PackName {
    fn of(name: &[u8]) -> Self {
        if name.starts_with(TEMP_PREFIX.as_bytes()) {
            PackName::Temporary
        } else if name.ends_with(PACK_SUFFIX.as_bytes()) {
            PackName::Pack
        } else {
            PackName::Other
        }
    }
}

impl Index {
    /// The index of every pack in `packs_dir`, newer packs taking precedence. A file named like
    /// a pack that is not a whole pack is removed; a pack of another format is left alone.
    fn load(packs_dir: &Path) -> Index {
        let mut index = Index::default();
        let Ok(files) = std::fs::read_dir(packs_dir) else {
            return index;
        };
        let mut paths: Vec<PathBuf> = files
            .flatten()
            .filter(|f| {
                matches!(
                    PackName::of(f.file_name().as_encoded_bytes()),
                    PackName::Pack
                )
            })
            .map(|f| f.path())
            .collect();
        paths.sort();
        let keep_open_from = paths.len().saturating_sub(OPEN_PACKS);
        for (number, path) in paths.into_iter().enumerate() {
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            let records = match read_index(&file, meta.len()) {
                Ok(records) => records,
                Err(PackError::Damaged) => {
                    remove(&path);
                    continue;
                }
                Err(_) => continue,
            };
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let pack = index.packs.len() as u32;
            for (key, offset, len) in records {
                index.places.insert(key, Place { pack, offset, len });
            }
            index.packs.push(Pack {
                path,
                file: (number >= keep_open_from).then_some(file),
                used,
                refreshed: AtomicBool::new(false),
                damaged: AtomicBool::new(false),
            });
        }
        index
    }
}

impl Pack {
    /// `read` on the pack's file: the one kept open, or the file opened now.
    fn with_file<T>(&self, read: impl FnOnce(&File) -> io::Result<T>) -> io::Result<T> {
        match &self.file {
            Some(file) => read(file),
            None => read(&File::open(&self.path)?),
        }
    }

    /// Moves the pack's mtime to now, once per run, when it is more than an hour behind.
    fn refresh(&self) {
        let now = SystemTime::now();
        if now.duration_since(self.used).unwrap_or_default() > REFRESH_AFTER
            && !self.refreshed.swap(true, Ordering::Relaxed)
        {
            let _ = self.with_file(|file| file.set_modified(now));
        }
    }
}

impl PackWriter {
    /// A new temporary pack in `packs_dir`, locked (`flock`) while it is written so that
    /// another process's prune leaves it alone however long it stays idle.
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
        rustix::fs::flock(file.as_file(), rustix::fs::FlockOperation::LockExclusive)?;
        Ok(PackWriter {
            file,
            places: HashMap::new(),
            written: 0,
        })
    }

    /// Appends the entry `bytes` for `key` (once: a key appended before is kept as it was).
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

    /// Writes the index and the footer, sets the mtime to `used` when given, and renames the
    /// pack into place.
    fn finish(mut self, packs_dir: &Path, used: Option<SystemTime>) -> io::Result<Finished> {
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
        if let Some(used) = used {
            self.file.as_file().set_modified(used)?;
        }
        // Names never collide (time, process, counter): a plain rename, which every file
        // system has (a no-clobber rename needs hard links or RENAME_NOREPLACE).
        let path = packs_dir.join(pack_name());
        let file = self.file.persist(&path).map_err(|e| e.error)?;
        Ok(Finished {
            path,
            file,
            places: self.places,
        })
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
    /// A pack of another pack format (another pycache): left alone.
    OtherFormat,
    /// Not a whole pack: removed.
    Damaged,
}

/// A pack's footer: its entry count and index offset, and its index's checksum.
struct Footer {
    count: u64,
    index_offset: u64,
    checksum: [u8; 16],
}

/// The footer of the pack open as `file`, whose size is `size`.
fn read_footer(file: &File, size: u64) -> Result<Footer, PackError> {
    let Some(at) = size.checked_sub(FOOTER as u64) else {
        return Err(PackError::Damaged);
    };
    let footer = read_at(file, at, FOOTER as u64).map_err(|_| PackError::Io)?;
    if &footer[..8] != PACK_MAGIC {
        return Err(PackError::Damaged);
    }
    if footer[8..12] != PACK_FORMAT.to_le_bytes() {
        return Err(PackError::OtherFormat);
    }
    let u64_at = |at: usize| u64::from_le_bytes(footer[at..at + 8].try_into().unwrap_or([0; 8]));
    Ok(Footer {
        count: u64_at(16),
        index_offset: u64_at(24),
        checksum: footer[32..48].try_into().unwrap_or([0; 16]),
    })
}

/// The records of the pack open as `file`, whose size is `size`: key, offset and length of
/// each entry.
fn read_index(file: &File, size: u64) -> Result<Vec<Record>, PackError> {
    let footer = read_footer(file, size)?;
    let end = size - FOOTER as u64;
    let index_len = footer.count.checked_mul(RECORD as u64);
    if index_len.and_then(|len| len.checked_add(footer.index_offset)) != Some(end) {
        return Err(PackError::Damaged);
    }
    let index =
        read_at(file, footer.index_offset, end - footer.index_offset).map_err(|_| PackError::Io)?;
    if xxh3_128(&index) != footer.checksum {
        return Err(PackError::Damaged);
    }
    index
        .chunks_exact(RECORD)
        .map(|record| {
            let key: [u8; 32] = record[..32].try_into().unwrap_or([0; 32]);
            let offset = u64::from_le_bytes(record[32..40].try_into().unwrap_or([0; 8]));
            let len = u64::from_le_bytes(record[40..48].try_into().unwrap_or([0; 8]));
            match offset.checked_add(len) {
                Some(end) if end <= footer.index_offset => {
                    Ok((CacheKey::from_bytes(key), offset, len))
                }
                _ => Err(PackError::Damaged),
            }
        })
        .collect()
}

/// The checksum of a pack's index (see [`Entry`] for why not a cryptographic one).
fn xxh3_128(bytes: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(bytes).to_le_bytes()
}

/// `len` bytes of `file` from `offset`, by positioned reads (one, unless it comes back short;
/// a pack never changes once renamed into place).
fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    // Read into the vector's spare capacity: a hit's buffer is not zero-filled first.
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        let at = offset + bytes.len() as u64;
        match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut bytes), at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(bytes)
}

/// The number of entries a pack's footer declares (0 when it cannot be read).
fn pack_entries(pack: &Listed) -> u64 {
    let footer = File::open(&pack.path)
        .ok()
        .and_then(|file| read_footer(&file, pack.bytes).ok());
    footer.map_or(0, |footer| footer.count)
}

/// What `packs` hold: the keys they have (a key in two packs, stored by two processes at once,
/// counts once) and their size.
fn usage_of(packs: &[Listed]) -> CacheUsage {
    let mut keys = std::collections::HashSet::new();
    for pack in packs {
        if let Ok(Ok(records)) = File::open(&pack.path).map(|file| read_index(&file, pack.bytes)) {
            keys.extend(records.into_iter().map(|(key, _, _)| key));
        }
    }
    CacheUsage {
        entries: keys.len() as u64,
        bytes: packs.iter().map(|p| p.bytes).sum(),
    }
}

/// True when another process holds the lock on the file at `path` (a pack being written).
fn is_locked(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let attempt = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive);
    matches!(attempt, Err(e) if e == rustix::io::Errno::WOULDBLOCK)
}

/// True when `name` is `len` lower-case hex digits.
fn is_hex(name: &[u8], len: usize) -> bool {
    name.len() == len && name.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The files of a shard directory of the one-file-per-entry layout that are its entries (64
/// hex digits) or its temporary files, with their sizes.
fn old_shard_files(shard: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(files) = std::fs::read_dir(shard) else {
        return Vec::new();
    };
    files
        .flatten()
        .filter(|file| {
            let name = file.file_name();
            let name = name.as_encoded_bytes();
            is_hex(name, 64) || name.starts_with(TEMP_PREFIX.as_bytes())
        })
        .map(|file| (file.path(), file.metadata().map_or(0, |m| m.len())))
        .collect()
}

/// Removes the entries and temporary files of an old shard directory, then the directory if
/// nothing else is in it; how many files and bytes went.
fn remove_old_shard(shard: &Path) -> (u64, u64) {
    let mut removed = (0, 0);
    for (path, len) in old_shard_files(shard) {
        if remove(&path) {
            removed = (removed.0 + 1, removed.1 + len);
        }
    }
    let _ = std::fs::remove_dir(shard);
    removed
}

/// Removes a file; true when this call removed it (another process may have first).
fn remove(path: &Path) -> bool {
    std::fs::remove_file(path).is_ok()
}
