//! The compile engine's cache stage, between freshness and scheduling: what was compiled
//! before (by this machine or, through the remote, by another) is served from the cache,
//! re-pointed to this file's name; what is compiled now is stored for next time.
//!
//! Keys and entries are [`crate::cache`]'s. A payload is served only when every level of the
//! file is found, intact and re-pointable; otherwise the file is compiled as if there were no
//! cache. Files the interpreter warned about are not cached: their warnings name the path they
//! were compiled at, and compileall prints them on every compile, so a hit could not say them
//! truthfully.

use super::job::{Pieces, write_pycs};
use super::plan::{InterpreterPlan, Job};
use super::{CodeCacheOptions, Context, FileReport, Outcome};
use crate::cache::{CacheKey, Entry, EntryBuf, EntryView, KeyParts, LocalCache, Lookup, RunStats};
#[cfg(feature = "remote")]
use crate::cache::{bundle_key, decode_bundle, encode_bundle};
use crate::marshal::{self, FilenameSpots, Format, Splice};
use crate::parallel::Pool;
#[cfg(feature = "remote")]
use std::collections::HashMap;
#[cfg(feature = "remote")]
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "remote")]
use crate::cache::RemoteCache;
#[cfg(feature = "remote")]
use bytes::Bytes;

/// The caches of one run, and what the run did with them.
#[derive(Debug)]
pub(super) struct CacheStage {
    local: Option<LocalCache>,
    #[cfg(feature = "remote")]
    remote: Option<RemoteCache>,
    #[cfg(feature = "remote")]
    remote_read_only: bool,
    max_size: u64,
    canonical: bool,
    worker: [u8; 32],
    hits: AtomicU64,
    remote_hits: AtomicU64,
    misses: AtomicU64,
    damaged: AtomicU64,
    stored: AtomicU64,
    /// Entries to send to the remote, sent whenever they reach [`OUTBOX_BATCH_BYTES`] and at
    /// the end of the run.
    #[cfg(feature = "remote")]
    outbox: Mutex<Outbox>,
    /// Held while a batch is sent: one at a time.
    #[cfg(feature = "remote")]
    sending: Mutex<()>,
    /// The first remote error; after it the remote is left alone.
    #[cfg(feature = "remote")]
    remote_error: Mutex<Option<String>>,
    /// The warning of a remote error met while compiling, said when the run ends.
    #[cfg(feature = "remote")]
    late_warning: Mutex<Option<String>>,
    /// The bundles the remote did not have (key, and the keys of their entries): stored when
    /// the run ends, from the local cache, if it then holds every entry of one.
    #[cfg(feature = "remote")]
    unbundled: Mutex<Vec<(CacheKey, Vec<CacheKey>)>>,
}

/// The bytes of entries held for the remote before a compile thread sends them: a run that
/// compiles a million files does not hold what it compiled until the end.
#[cfg(feature = "remote")]
const OUTBOX_BATCH_BYTES: usize = 4 << 20;

/// Entries waiting to be sent to the remote, and their size.
#[cfg(feature = "remote")]
#[derive(Debug, Default)]
struct Outbox {
    entries: Vec<(CacheKey, Vec<u8>)>,
    bytes: usize,
}

impl CacheStage {
    /// The caches `options` ask for; `None` when caching is off. A remote that cannot be set
    /// up is reported through `warn` and left out.
    pub(super) fn open(
        options: &CodeCacheOptions,
        canonical: bool,
        warn: &mut Vec<String>,
    ) -> Option<Self> {
        if !options.enabled {
            return None;
        }
        let local = options
            .dir
            .clone()
            .or_else(crate::cache::default_dir)
            .map(|dir| LocalCache::new(dir).with_max_size(options.max_size));
        #[cfg(feature = "remote")]
        let remote = options.remote.as_deref().and_then(|url| {
            RemoteCache::from_url(url, options.remote_timeout)
                .map_err(|e| warn.push(format!("{e}; going on without it")))
                .ok()
        });
        #[cfg(not(feature = "remote"))]
        if let Some(url) = &options.remote {
            warn.push(format!(
                "remote cache {url}: this pycache was built without remote support"
            ));
        }
        Some(CacheStage {
            local,
            #[cfg(feature = "remote")]
            remote,
            #[cfg(feature = "remote")]
            remote_read_only: options.remote_read_only,
            max_size: options.max_size,
            canonical,
            worker: *blake3::hash(super::worker::script()).as_bytes(),
            hits: AtomicU64::new(0),
            remote_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            damaged: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            #[cfg(feature = "remote")]
            outbox: Mutex::new(Outbox::default()),
            #[cfg(feature = "remote")]
            sending: Mutex::new(()),
            #[cfg(feature = "remote")]
            remote_error: Mutex::new(None),
            #[cfg(feature = "remote")]
            late_warning: Mutex::new(None),
            #[cfg(feature = "remote")]
            unbundled: Mutex::new(Vec::new()),
        })
    }

    /// True when no lookup can hit: no remote, and a local cache that is empty (or none).
    fn has_nothing(&self) -> bool {
        #[cfg(feature = "remote")]
        if self.remote.is_some() {
            return false;
        }
        self.local.as_ref().is_none_or(LocalCache::is_empty)
    }

    /// The key of the source whose digest is `digest` ([`KeyParts::source_digest`]),
    /// compiled by `target`'s interpreter at `level`.
    fn key(&self, target: &InterpreterPlan, level: i8, digest: [u8; 32]) -> CacheKey {
        let interpreter = &target.interpreter;
        CacheKey::new(&KeyParts {
            implementation: interpreter.implementation(),
            sys_version: interpreter.sys_version(),
            magic: interpreter.magic().0,
            optimization: level,
            source_digest: digest,
            worker: &self.worker,
            canonical: self.canonical,
        })
    }

    /// The keys of the source whose digest is `digest` at each of `levels`.
    fn keys(&self, target: &InterpreterPlan, levels: &[i8], digest: [u8; 32]) -> Vec<CacheKey> {
        (levels.iter())
            .map(|&level| self.key(target, level, digest))
            .collect()
    }

    /// The payloads of `job` from the local cache (`keys`: one per level), re-pointed to the
    /// job's name; `None` on any miss.
    fn lookup_local(
        &self,
        target: &InterpreterPlan,
        job: &Job,
        keys: &[CacheKey],
    ) -> Option<Vec<Served>> {
        let Some(local) = self.local.as_ref() else {
            return self.miss();
        };
        let Ok((format, _)) = Format::for_magic(target.interpreter.magic()) else {
            return self.miss();
        };
        let mut payloads = Vec::with_capacity(keys.len());
        for key in keys {
            // Re-pointed in the buffer it was read into. A level found missing after another
            // was re-pointed wastes that work: rare, since the levels of a file are stored
            // together.
            match local
                .get_buf(key)
                .map(|entry| self.repoint_in_place(format, job, entry))
            {
                Lookup::Hit(Some(payload)) => payloads.push(payload),
                // An intact entry that cannot be re-pointed is compiled again.
                Lookup::Hit(None) | Lookup::Miss => return self.miss(),
                Lookup::Damaged(_) => {
                    self.damaged.fetch_add(1, Ordering::Relaxed);
                    return self.miss();
                }
            }
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(payloads)
    }

    fn miss<T>(&self) -> Option<T> {
        self.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// `entry`'s payload with `co_filename` re-pointed to the job's name (and in canonical
    /// form again when the run is reproducible: a new name may change what is shared).
    fn repoint(&self, format: Format, job: &Job, entry: EntryView<'_>) -> Option<Vec<u8>> {
        let moved = spots_of(format, entry)?.apply(entry.payload, &job.name);
        if self.canonical {
            marshal::canonical(&moved, format).ok()
        } else {
            Some(moved)
        }
    }

    /// As [`CacheStage::repoint`], the payload left in the buffer it was read into: the pyc is
    /// written from its pieces.
    fn repoint_in_place(&self, format: Format, job: &Job, entry: EntryBuf) -> Option<Served> {
        let view = entry.view();
        if self.canonical {
            return self.repoint(format, job, view).map(Served::Whole);
        }
        let splice = spots_of(format, view)?.splice(view.payload, &job.name);
        if splice.piece_count() > MAX_PIECES {
            return Some(Served::Whole(splice.to_vec(view.payload)));
        }
        Some(Served::Spliced(entry, splice))
    }

    /// Stores what a worker compiled (no warnings: see the module doc).
    pub(super) fn store(
        &self,
        target: &InterpreterPlan,
        levels: &[i8],
        digest: [u8; 32],
        code: &[Vec<u8>],
    ) {
        #[cfg(feature = "remote")]
        let to_remote = self.remote.is_some() && !self.remote_read_only;
        #[cfg(not(feature = "remote"))]
        let to_remote = false;
        let Ok((format, _)) = Format::for_magic(target.interpreter.magic()) else {
            return;
        };
        for (key, payload) in self.keys(target, levels, digest).into_iter().zip(code) {
            // A payload that cannot be scanned could not be re-pointed on a hit either.
            let Ok(spots) = FilenameSpots::find(payload, format) else {
                continue;
            };
            let bytes = Entry::encode_parts(&key, payload, "", self.canonical, &spots.to_bytes());
            if let Some(local) = &self.local
                && local.put_encoded(&key, &bytes).is_ok()
            {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            if to_remote && !self.remote_failed() {
                self.send_later(key, bytes);
            }
        }
    }

    /// Holds `bytes` for the remote; sends what is held once it is a batch.
    #[cfg(feature = "remote")]
    fn send_later(&self, key: CacheKey, bytes: Vec<u8>) {
        let batch = {
            let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
            outbox.bytes += bytes.len();
            outbox.entries.push((key, bytes));
            (outbox.bytes >= OUTBOX_BATCH_BYTES).then(|| std::mem::take(&mut *outbox))
        };
        if let Some(batch) = batch
            && let Err(error) = self.send(batch)
        {
            let mut late = self.late_warning.lock().unwrap_or_else(|e| e.into_inner());
            late.get_or_insert(error);
        }
    }

    #[cfg(not(feature = "remote"))]
    fn send_later(&self, _key: CacheKey, _bytes: Vec<u8>) {}

    /// Sends `batch` to the remote, unless it has failed before; the warning to give when it
    /// fails now, for the first time.
    #[cfg(feature = "remote")]
    fn send(&self, batch: Outbox) -> Result<(), String> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let _one_at_a_time = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        if batch.entries.is_empty() || self.remote_failed() {
            return Ok(());
        }
        remote
            .put_many(batch.entries)
            .or_else(|error| self.remote_failed_with(error.to_string()))
    }

    /// Remembers bundles the remote lacked, to store when the run ends.
    #[cfg(feature = "remote")]
    fn want_bundles(&self, bundles: Vec<(CacheKey, Vec<CacheKey>)>) {
        let mut unbundled = self.unbundled.lock().unwrap_or_else(|e| e.into_inner());
        unbundled.extend(bundles);
    }

    /// Sends the bundles the remote lacked whose entries the local cache now holds, all of
    /// them (what was fetched, what was compiled: the next machine fetches the directory with
    /// one request); the warning to give when the remote fails now, for the first time.
    #[cfg(feature = "remote")]
    fn send_bundles(&self) -> Result<(), String> {
        let wanted = std::mem::take(&mut *self.unbundled.lock().unwrap_or_else(|e| e.into_inner()));
        let Some(local) = self.local.as_ref() else {
            return Ok(());
        };
        if self.remote_read_only || self.remote_failed() {
            return Ok(());
        }
        let mut batch = Outbox::default();
        for (bundle, mut keys) in wanted {
            keys.sort_unstable_by_key(|key| *key.as_bytes());
            keys.dedup();
            let entries: Option<Vec<(CacheKey, Vec<u8>)>> = keys
                .iter()
                .map(|key| Some((*key, local.get_encoded(key)?)))
                .collect();
            let Some(entries) = entries else {
                continue; // a file that failed, warned, or was not stored
            };
            let bytes = encode_bundle(&entries);
            batch.bytes += bytes.len();
            batch.entries.push((bundle, bytes));
            if batch.bytes >= OUTBOX_BATCH_BYTES {
                self.send(std::mem::take(&mut batch))?;
            }
        }
        self.send(batch)
    }

    /// The stored bytes of `keys` in the remote (`None` for each once the remote has failed);
    /// the warning to give when it fails now, for the first time.
    #[cfg(feature = "remote")]
    fn fetch_remote(&self, keys: &[CacheKey]) -> Result<Vec<Option<Bytes>>, String> {
        let nothing = || vec![None; keys.len()];
        let Some(remote) = self.remote.as_ref().filter(|_| !self.remote_failed()) else {
            return Ok(nothing());
        };
        remote.get_many(keys).or_else(|error| {
            self.remote_failed_with(error.to_string())
                .map(|()| nothing())
        })
    }

    /// `job`'s payloads re-pointed to its name, from what the remote gave for each of its
    /// levels (`found`, in `keys`' order), when all were there and intact; each is also stored
    /// locally.
    #[cfg(feature = "remote")]
    fn take_remote(
        &self,
        target: &InterpreterPlan,
        job: &Job,
        keys: &[CacheKey],
        found: &[Option<Bytes>],
    ) -> Option<Vec<Vec<u8>>> {
        let mut entries = Vec::with_capacity(keys.len());
        for (key, bytes) in keys.iter().zip(found) {
            let bytes = bytes.as_deref()?;
            let Ok(entry) = EntryView::new(bytes, key) else {
                self.damaged.fetch_add(1, Ordering::Relaxed);
                return None;
            };
            if let Some(local) = &self.local {
                let _ = local.put_encoded(key, bytes);
            }
            entries.push(entry);
        }
        let (format, _) = Format::for_magic(target.interpreter.magic()).ok()?;
        let payloads = (entries.into_iter())
            .map(|entry| self.repoint(format, job, entry))
            .collect::<Option<Vec<_>>>()?;
        // A local miss was counted for this job; it is a remote hit after all.
        self.misses.fetch_sub(1, Ordering::Relaxed);
        self.remote_hits.fetch_add(1, Ordering::Relaxed);
        Some(payloads)
    }

    /// True once the remote has failed: it is left alone for the rest of the run.
    fn remote_failed(&self) -> bool {
        #[cfg(feature = "remote")]
        return self
            .remote_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        #[cfg(not(feature = "remote"))]
        false
    }

    /// Remembers that the remote failed with `message`; the warning to give, the first time
    /// only (so no later request waits on the remote again, and the run warns once).
    #[cfg(feature = "remote")]
    fn remote_failed_with(&self, message: String) -> Result<(), String> {
        let mut first = self.remote_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_some() {
            return Ok(());
        }
        let warning = format!("{message}; compiling without the remote cache");
        *first = Some(message);
        Err(warning)
    }

    /// Ends the run: sends what was compiled to the remote, keeps the local cache under its
    /// size cap, and records the run's hits and misses.
    pub(super) fn finish(&self, warn: &mut Vec<String>) -> CacheCounts {
        #[cfg(feature = "remote")]
        {
            let rest = std::mem::take(&mut *self.outbox.lock().unwrap_or_else(|e| e.into_inner()));
            let late = self
                .late_warning
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let failed = self.send(rest).and_then(|()| self.send_bundles()).err();
            warn.extend(late.into_iter().chain(failed));
        }
        let counts = CacheCounts {
            hits: self.hits.load(Ordering::Relaxed),
            remote_hits: self.remote_hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            damaged: self.damaged.load(Ordering::Relaxed),
        };
        if let Some(local) = &self.local {
            // Whatever was stored (compiled here, or fetched from the remote) goes into one
            // pack, finished here; then the cap is kept.
            let stored = self.stored.load(Ordering::Relaxed) + counts.remote_hits;
            let kept = if stored > 0 {
                local.prune_quietly(self.max_size)
            } else {
                local.flush()
            };
            if let Err(error) = kept {
                warn.push(format!(
                    "cache {}: cannot finish what it stored, or prune: {error}",
                    local.dir().display()
                ));
            }
            if counts.hits + counts.remote_hits + counts.misses > 0 {
                let run = RunStats::new(
                    counts.hits,
                    counts.remote_hits,
                    counts.misses,
                    counts.damaged,
                );
                let _ = crate::cache::record_run(local.dir(), &run);
            }
        }
        counts
    }
}

/// What a run got from the caches (files, not levels).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheCounts {
    /// Files served from the local cache.
    pub hits: u64,
    /// Files served from the remote cache.
    pub remote_hits: u64,
    /// Files looked up and compiled.
    pub misses: u64,
    /// Damaged entries met (their packs are rewritten without them).
    pub damaged: u64,
}

/// How the local lookup of one job ended.
enum Looked {
    /// Written (or failed to write) from the local cache: how, and its keys (one per level).
    /// The report is made from the job itself once the lookup is over (no copy of its paths).
    Done(Outcome, Vec<CacheKey>),
    /// Not in the local cache: its keys, for the remote.
    Missed(Vec<CacheKey>),
    /// Not for the cache (no pyc path, unreadable source, interrupted): the workers' path
    /// reports it as it would without a cache.
    Skipped,
}

/// Jobs looked up locally at a time: their reports are told before the next chunk is looked
/// up, so that a warm run holds no report per file.
const LOCAL_CHUNK: usize = 1024;

/// Serves what it can of `stale` from the caches (local on every core; the local misses from
/// the remote, a directory at a time where it holds a bundle, fetched while the local lookups go
/// on), telling `on_report` each file it served as it goes, and gives back the jobs left to
/// compile.
pub(super) fn serve(
    cache: &CacheStage,
    context: &Context<'_>,
    stale: Vec<Job>,
    warnings: &mut Vec<String>,
    mut on_report: impl FnMut(FileReport),
) -> Vec<Job> {
    if cache.has_nothing() {
        // Every lookup would miss: no source is read and hashed twice (here, then to store).
        let looked_up = stale.iter().filter(|job| !job.cfiles.is_empty()).count();
        cache.misses.fetch_add(looked_up as u64, Ordering::Relaxed);
        return stale;
    }
    let pool = Pool::new(context.options.workers.clamp(1, 8));
    std::thread::scope(|scope| {
        let mut rest = Vec::new();
        let mut remote = RemoteStage::start(scope, cache, context, &pool);
        let mut stale = stale.into_iter().peekable();
        while stale.peek().is_some() {
            let chunk: Vec<Job> = stale.by_ref().take(LOCAL_CHUNK).collect();
            let looked = pool.map(&chunk, |job| look_locally(cache, context, job));
            for (job, looked) in chunk.into_iter().zip(looked) {
                match looked {
                    Looked::Done(outcome, keys) => {
                        remote.seen(&job, keys, &mut rest);
                        on_report(job.report(outcome, String::new()));
                    }
                    Looked::Missed(keys) => remote.ask(job, keys, &mut rest),
                    Looked::Skipped => rest.push(job),
                }
            }
            remote.serve_ready(&mut on_report, &mut rest, warnings);
        }
        remote.finish(&mut on_report, &mut rest, warnings);
        rest
    })
}

/// Remote lookups per batch: large enough to keep many requests in flight, small enough that
/// the payloads of one batch stay a few megabytes.
#[cfg(feature = "remote")]
const REMOTE_BATCH: usize = 512;

/// Fetched batches waiting to be served (beside the one the fetcher holds and the one being
/// written): bounds what is held of the remote's payloads.
#[cfg(feature = "remote")]
const FETCHED_AHEAD: usize = 2;

/// The files of one source directory looked up for one interpreter: the keys of all of them
/// (which name the directory's bundle; a file's levels one after another) and the local misses
/// among them, each with where its keys start.
#[cfg(feature = "remote")]
#[derive(Default)]
struct Group {
    keys: Vec<CacheKey>,
    missed: Vec<(Job, usize)>,
}

/// What the remote gave for a batch of groups: the missed jobs, their keys (one per level, job
/// by job) and the bytes for each key (or the warning of the remote's first failure); and the
/// bundles it did not have (key, and the keys of their entries), to store when the run ends.
#[cfg(feature = "remote")]
struct Fetched {
    jobs: Vec<Job>,
    keys: Vec<CacheKey>,
    found: Result<Vec<Option<Bytes>>, String>,
    unbundled: Vec<(CacheKey, Vec<CacheKey>)>,
}

/// The remote side of [`serve`]: the local misses, grouped by source directory (a directory's
/// files come one after another: its groups are complete when the next directory starts), sent
/// in batches to a fetching thread (a bundle per directory, then each file of the directories it
/// has no bundle for) while the local lookups go on and the fetched batches are written.
#[cfg(feature = "remote")]
struct RemoteStage<'a> {
    cache: &'a CacheStage,
    context: &'a Context<'a>,
    pool: &'a Pool,
    /// The directory being looked up, and its groups by interpreter.
    dir: Vec<u8>,
    groups: HashMap<usize, Group>,
    /// Complete groups with misses, not yet sent, and how many misses they hold.
    pending: (Vec<Group>, usize),
    /// The channels to and from the fetching thread (`None` without a remote, or when the
    /// thread could not start).
    to_fetch: Option<std::sync::mpsc::Sender<Vec<Group>>>,
    fetched: Option<std::sync::mpsc::Receiver<Fetched>>,
}

#[cfg(feature = "remote")]
impl<'a> RemoteStage<'a> {
    fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, 'a>,
        cache: &'a CacheStage,
        context: &'a Context<'a>,
        pool: &'a Pool,
    ) -> Self {
        let mut stage = RemoteStage {
            cache,
            context,
            pool,
            dir: Vec::new(),
            groups: HashMap::new(),
            pending: (Vec::new(), 0),
            to_fetch: None,
            fetched: None,
        };
        if cache.remote.is_none() {
            return stage;
        }
        let (to_fetch, batches) = std::sync::mpsc::channel::<Vec<Group>>();
        let (sender, fetched) = std::sync::mpsc::sync_channel(FETCHED_AHEAD);
        let spawned = std::thread::Builder::new()
            .name("pycache-remote".into())
            .spawn_scoped(scope, move || {
                for batch in batches {
                    if sender.send(fetch(cache, context, batch)).is_err() {
                        break;
                    }
                }
            });
        if spawned.is_ok() {
            stage.to_fetch = Some(to_fetch);
            stage.fetched = Some(fetched);
        }
        stage
    }

    /// The group of `job`, with `keys` (its levels') added, and where they start in it (the
    /// groups before it sent when it starts another directory); `None` without a remote.
    fn group(
        &mut self,
        job: &Job,
        keys: Vec<CacheKey>,
        rest: &mut Vec<Job>,
    ) -> Option<(&mut Group, usize)> {
        self.to_fetch.as_ref()?;
        let dir = job.cell.path().parent().unwrap_or(std::path::Path::new(""));
        let dir = dir.as_os_str().as_encoded_bytes();
        if dir != self.dir.as_slice() {
            self.close_dir(rest);
            self.dir = dir.to_vec();
        }
        let group = self.groups.entry(job.target).or_default();
        let start = group.keys.len();
        group.keys.extend(keys);
        Some((group, start))
    }

    /// The directory's groups are complete: those with misses join the next batch.
    fn close_dir(&mut self, rest: &mut Vec<Job>) {
        for (_, group) in self.groups.drain() {
            if !group.missed.is_empty() {
                self.pending.1 += group.missed.len();
                self.pending.0.push(group);
            }
        }
        if self.pending.1 >= REMOTE_BATCH {
            self.send_pending(rest);
        }
    }

    fn send_pending(&mut self, rest: &mut Vec<Job>) {
        let (batch, _) = std::mem::take(&mut self.pending);
        if batch.is_empty() {
            return;
        }
        let unsent = match &self.to_fetch {
            Some(to_fetch) => to_fetch.send(batch).err().map(|e| e.0),
            None => Some(batch),
        };
        for group in unsent.into_iter().flatten() {
            rest.extend(group.missed.into_iter().map(|(job, _)| job));
        }
    }

    /// A local hit: its keys name its directory's bundle.
    fn seen(&mut self, job: &Job, keys: Vec<CacheKey>, rest: &mut Vec<Job>) {
        self.group(job, keys, rest);
    }

    /// A local miss: asked of the remote with its directory, or compiled when there is none.
    fn ask(&mut self, job: Job, keys: Vec<CacheKey>, rest: &mut Vec<Job>) {
        match self.group(&job, keys, rest) {
            Some((group, start)) => group.missed.push((job, start)),
            None => rest.push(job),
        }
    }

    /// Writes the batches fetched so far.
    fn serve_ready(
        &mut self,
        on_report: &mut impl FnMut(FileReport),
        rest: &mut Vec<Job>,
        warnings: &mut Vec<String>,
    ) {
        while let Some(fetched) = self.fetched.as_ref().and_then(|f| f.try_recv().ok()) {
            self.serve_batch(fetched, on_report, rest, warnings);
        }
    }

    /// Sends the last groups, then writes every batch as it is fetched.
    fn finish(
        mut self,
        on_report: &mut impl FnMut(FileReport),
        rest: &mut Vec<Job>,
        warnings: &mut Vec<String>,
    ) {
        self.close_dir(rest);
        self.send_pending(rest);
        self.to_fetch = None;
        if let Some(fetched) = self.fetched.take() {
            for batch in fetched {
                self.serve_batch(batch, on_report, rest, warnings);
            }
        }
    }

    /// Decodes, stores locally, re-points and writes one fetched batch, on every core; what
    /// the remote did not have (or gave damaged) is left to compile.
    fn serve_batch(
        &self,
        batch: Fetched,
        on_report: &mut impl FnMut(FileReport),
        rest: &mut Vec<Job>,
        warnings: &mut Vec<String>,
    ) {
        let levels = self.context.levels.len();
        let Fetched {
            jobs,
            keys,
            found,
            unbundled,
        } = batch;
        let found = found.unwrap_or_else(|warning| {
            warnings.push(warning);
            vec![None; keys.len()]
        });
        self.cache.want_bundles(unbundled);
        let items: Vec<RemoteFound<'_>> = jobs
            .iter()
            .zip(keys.chunks(levels).zip(found.chunks(levels)))
            .map(|(job, (keys, found))| (job, keys, found))
            .collect();
        let (cache, context) = (self.cache, self.context);
        let served = self.pool.map(&items, |&(job, keys, found)| {
            if context.options.cancel.load(Ordering::SeqCst) {
                return None;
            }
            let payloads = cache.take_remote(&context.targets[job.target], job, keys, found)?;
            Some(match job.cell.bytes() {
                Ok(source) => written(
                    context,
                    job,
                    &source,
                    &super::job::whole(&payloads),
                    Outcome::FromRemote,
                ),
                Err(message) => Outcome::Failed(message),
            })
        });
        for (job, served) in jobs.into_iter().zip(served) {
            match served {
                Some(outcome) => on_report(job.report(outcome, String::new())),
                None => rest.push(job),
            }
        }
    }
}

/// Asks the remote for the bundles of `batch`, then for each file of the groups it has none
/// for (nothing once the run is interrupted).
#[cfg(feature = "remote")]
fn fetch(cache: &CacheStage, context: &Context<'_>, batch: Vec<Group>) -> Fetched {
    let levels = context.levels.len();
    let cancelled = || context.options.cancel.load(Ordering::SeqCst);
    let bundle_keys: Vec<CacheKey> = batch.iter().map(|g| bundle_key(&g.keys)).collect();
    let mut warning = None;
    let bundles = if cancelled() {
        vec![None; batch.len()]
    } else {
        cache.fetch_remote(&bundle_keys).unwrap_or_else(|w| {
            warning = Some(w);
            vec![None; batch.len()]
        })
    };
    let mut jobs = Vec::new();
    let mut keys = Vec::new();
    let mut found: Vec<Option<Bytes>> = Vec::new();
    let mut asked = Vec::new();
    let mut unbundled = Vec::new();
    for ((group, bundle_key), bundle) in batch.into_iter().zip(bundle_keys).zip(bundles) {
        let entries: Option<(&Bytes, HashMap<CacheKey, &[u8]>)> =
            bundle.as_ref().and_then(|bundle| {
                let entries = decode_bundle(bundle)?;
                Some((bundle, entries.into_iter().collect()))
            });
        for (job, start) in group.missed {
            for &key in &group.keys[start..start + levels] {
                match &entries {
                    // A slice of the bundle, not a copy of it.
                    Some((bundle, entries)) => {
                        found.push(entries.get(&key).map(|&bytes| bundle.slice_ref(bytes)));
                    }
                    None => {
                        asked.push(found.len());
                        found.push(None);
                    }
                }
                keys.push(key);
            }
            jobs.push(job);
        }
        // Stored when the run ends: not once it is interrupted (nothing new starts then).
        if entries.is_none() && !cancelled() {
            unbundled.push((bundle_key, group.keys));
        }
    }
    if !asked.is_empty() && !cancelled() {
        let wanted: Vec<CacheKey> = asked.iter().map(|&at| keys[at]).collect();
        match cache.fetch_remote(&wanted) {
            Ok(got) => {
                for (at, bytes) in asked.into_iter().zip(got) {
                    found[at] = bytes;
                }
            }
            Err(w) => {
                warning.get_or_insert(w);
            }
        }
    }
    Fetched {
        jobs,
        keys,
        found: warning.map_or(Ok(found), Err),
        unbundled,
    }
}

/// Without remote support, every local miss is compiled.
#[cfg(not(feature = "remote"))]
struct RemoteStage;

#[cfg(not(feature = "remote"))]
impl RemoteStage {
    fn start<'scope, 'a>(
        _scope: &'scope std::thread::Scope<'scope, 'a>,
        _cache: &'a CacheStage,
        _context: &'a Context<'a>,
        _pool: &'a Pool,
    ) -> Self {
        RemoteStage
    }

    fn seen(&mut self, _job: &Job, _keys: Vec<CacheKey>, _rest: &mut Vec<Job>) {}

    fn ask(&mut self, job: Job, _keys: Vec<CacheKey>, rest: &mut Vec<Job>) {
        rest.push(job);
    }

    fn serve_ready(
        &mut self,
        _on_report: &mut impl FnMut(FileReport),
        _rest: &mut Vec<Job>,
        _warnings: &mut Vec<String>,
    ) {
    }

    fn finish(
        self,
        _on_report: &mut impl FnMut(FileReport),
        _rest: &mut Vec<Job>,
        _warnings: &mut Vec<String>,
    ) {
    }
}

/// Where re-pointing changes `entry`'s payload: the spots the entry keeps when they fit its
/// payload (sparing the scan), else found by one; `None` when the payload cannot be scanned.
fn spots_of(format: Format, entry: EntryView<'_>) -> Option<FilenameSpots> {
    FilenameSpots::from_bytes(entry.filename_spots, entry.payload)
        .or_else(|| FilenameSpots::find(entry.payload, format).ok())
}

/// A re-pointing of more pieces than this is copied into one, so that a pyc is written with
/// one `writev` of its header and pieces, well within `IOV_MAX` (1024) of them (PyPy writes the
/// filename in every code object, CPython once).
const MAX_PIECES: usize = 256;

/// One level's payload served from the cache.
enum Served {
    /// In one piece: made canonical again, or of many pieces.
    Whole(Vec<u8>),
    /// Re-pointed in pieces over the entry as it was read.
    Spliced(EntryBuf, Splice),
}

impl Served {
    fn pieces(&self) -> Pieces<'_> {
        match self {
            Served::Whole(payload) => vec![payload],
            Served::Spliced(entry, splice) => splice.pieces(entry.payload()).collect(),
        }
    }
}

/// A job, its keys (one per level) and what the remote holds under each.
#[cfg(feature = "remote")]
type RemoteFound<'a> = (&'a Job, &'a [CacheKey], &'a [Option<Bytes>]);

fn look_locally(cache: &CacheStage, context: &Context<'_>, job: &Job) -> Looked {
    if job.cfiles.is_empty()
        || context.options.cancel.load(Ordering::SeqCst)
        || job.check_targets(context.levels.len()).is_err()
    {
        return Looked::Skipped;
    }
    thread_local! {
        /// The source being looked up, in a buffer each thread uses again.
        static SOURCE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SOURCE.with_borrow_mut(|source| {
        let looked = look_locally_in(cache, context, job, source);
        // A thread keeps no buffer larger than most sources.
        if source.capacity() > 1 << 20 {
            *source = Vec::new();
        }
        looked
    })
}

/// [`look_locally`] with the buffer to read the source into.
fn look_locally_in(
    cache: &CacheStage,
    context: &Context<'_>,
    job: &Job,
    source: &mut Vec<u8>,
) -> Looked {
    let Ok(metadata) = job.cell.read_into(source) else {
        return Looked::Skipped;
    };
    let source = source.as_slice();
    let digest = KeyParts::source_digest(source);
    let target = &context.targets[job.target];
    let keys = cache.keys(target, context.levels, digest);
    match cache.lookup_local(target, job, &keys) {
        Some(payloads) => {
            // The pycs' header is made from the stat of the file the key was made from.
            job.cell.keep_stat(metadata);
            let pieces: Vec<Pieces<'_>> = payloads.iter().map(Served::pieces).collect();
            Looked::Done(
                written(context, job, source, &pieces, Outcome::FromCache),
                keys,
            )
        }
        None => {
            // For the schedule, should it be compiled: no stat again.
            job.cell.keep_size(metadata.len());
            Looked::Missed(keys)
        }
    }
}

/// Writes `payloads` as `job`'s pycs (`source`: the bytes the key was made from): `served`
/// when they are written, else why not.
fn written(
    context: &Context<'_>,
    job: &Job,
    source: &[u8],
    payloads: &[Pieces<'_>],
    served: Outcome,
) -> Outcome {
    let target = &context.targets[job.target];
    let levels = context.levels.len();
    match write_pycs(target, levels, job, source, payloads, context.options) {
        Ok(()) => served,
        Err(failure) => Outcome::Failed(failure),
    }
}
