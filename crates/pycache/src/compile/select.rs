//! Which files `compileall` would compile: its directory walk and its per-file checks.
//!
//! `_walk_dir` lists a directory, sorts the names as Python sorts `str` (code points, with
//! undecodable bytes as surrogates), skips every entry named `__pycache__`, yields anything that
//! is not a directory, and recurses into real (not symlinked) directories while the depth allows.
//! `compile_file` then drops paths matching `-x`, symlinks pointing outside `-e`, non-files and
//! names not ending in `.py`. One walk serves every interpreter: each candidate carries its
//! depth, and each interpreter keeps those within its own `maxlevels` (10 before 3.9, the
//! recursion limit from 3.9).
//!
//! The walk is also where a no-op run spends its time, so it reads, while each directory is
//! open ([`super::directory`]), what freshness will ask next ([`Prefetch`]): the stat of every
//! `*.py` file and the headers of the pycs in the `__pycache__` beside it. Directories are
//! listed on several threads; a thread descends into its own subdirectories (holding at most
//! [`MAX_HELD_DIRECTORIES`] open) and hands half of what is left to a thread that runs dry.

use super::directory::{Directory, FileFacts, Kind, Listing, RawEntry};
use crate::python_str::code_points;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A file the walk found (before the per-file checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `os.path.join(dir, name)` as compileall builds it (or the argument itself).
    pub path: OsString,
    /// Index of the command-line root it came from.
    pub root: usize,
    /// Directory names between the root and the file (for 3.7/3.8's `-d` per subdirectory),
    /// shared by every file of one directory.
    pub subdirs: Arc<Vec<OsString>>,
    /// True when the file was named directly, not found by walking.
    pub explicit: bool,
    /// The file's stat (following symlinks), when the walk made it: for `*.py` files when
    /// the caller asked, and for files named directly.
    pub facts: Option<FileFacts>,
}

impl Candidate {
    /// How many directory levels below its root the file lies (0 for the root's own files).
    pub fn depth(&self) -> usize {
        self.subdirs.len()
    }
}

/// What the walk met that was not a file to consider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkProblem {
    /// A path on the command line that does not exist.
    Missing(OsString),
    /// A directory that could not be listed (`Can't list 'dir'` in compileall).
    CantList(OsString, String),
}

/// The result of walking every root.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Candidates in compileall's order.
    pub candidates: Vec<Candidate>,
    /// Directories that could not be listed and missing roots.
    pub problems: Vec<WalkProblem>,
    /// The `__pycache__` directories met on the way (real directories, never symlinks), which
    /// compileall skips and `check`/`clean` look into.
    pub pycache_dirs: Vec<OsString>,
    /// Their listings and pyc headers, when the caller asked the walk to read them.
    pub(crate) pycaches: PycacheListings,
}

/// `posixpath.join(a, b)`.
pub(crate) fn posix_join(a: &[u8], b: &[u8]) -> Vec<u8> {
    if b.starts_with(b"/") || a.is_empty() {
        return b.to_vec();
    }
    let mut out = a.to_vec();
    if !a.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(b);
    out
}

/// `posixpath.basename`.
pub(crate) fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// Walks `roots` as compileall's command line does, down to `max_depth` levels below each.
pub fn walk(roots: &[OsString], max_depth: usize) -> Walk {
    walk_parallel(roots, max_depth, 1)
}

/// [`walk`], listing directories on `threads` threads. The listings are then put in
/// compileall's order without touching the file system again, so the result is the same.
pub fn walk_parallel(roots: &[OsString], max_depth: usize, threads: usize) -> Walk {
    walk_prefetching(roots, max_depth, threads, &Prefetch::default())
}

/// A test on a file name.
pub(crate) type NameFilter<'a> = &'a (dyn Fn(&[u8]) -> bool + Sync);

/// How the walk reads a `__pycache__`.
#[derive(Default, Clone, Copy)]
pub(crate) enum PycacheRead<'a> {
    /// Not at all.
    #[default]
    Skip,
    /// List it, and read the header of each file whose name passes (for `check`, which also
    /// reports what no source expects).
    List(NameFilter<'a>),
    /// Read the header of `<stem><suffix>` for each `<stem>.py` beside it, without listing it
    /// (for `compile`, which only asks about those).
    Probe(&'a [Vec<u8>]),
}

/// What the walk reads besides names, while it holds each directory open (see
/// [`super::directory`]): the freshness pass then finds it all in the [`Walk`].
#[derive(Default)]
pub(crate) struct Prefetch<'a> {
    /// Stat every `*.py` file met (following symlinks, as `os.stat`): [`Candidate::facts`].
    pub(crate) stat_sources: bool,
    /// What to read of the `__pycache__` beside the sources: [`Walk::pycaches`].
    pub(crate) pycache: PycacheRead<'a>,
    /// Keep only the files (found by walking) whose name passes: the caller drops the rest
    /// anyway, and a tree holds several times more files than sources.
    pub(crate) keep_files: Option<NameFilter<'a>>,
}

fn walk_prefetching(
    roots: &[OsString],
    max_depth: usize,
    threads: usize,
    prefetch: &Prefetch<'_>,
) -> Walk {
    let mut walk = Walk::default();
    for (index, root) in roots.iter().enumerate() {
        let path = Path::new(root);
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => walk.candidates.push(Candidate {
                path: root.clone(),
                root: index,
                subdirs: Arc::new(Vec::new()),
                explicit: true,
                facts: Some(FileFacts::from_metadata(&metadata)),
            }),
            Err(error)
                if error.kind() == std::io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(path).is_err() =>
            {
                walk.problems.push(WalkProblem::Missing(root.clone()));
            }
            _ => {
                let (listings, pycaches) = list_tree(root, max_depth, threads, prefetch);
                emit(root, index, &mut Vec::new(), &listings, &mut walk);
                walk.pycaches.add(pycaches);
            }
        }
    }
    walk
}

/// A directory's entries in Python's order, without `__pycache__`.
struct Record {
    listing: Listing,
    facts: Vec<EntryFacts>,
    pycache: bool,
}

#[derive(Clone, Copy)]
struct EntryFacts {
    /// A directory to recurse into (not a symlink, within the depth).
    descend: bool,
    /// A directory (a symlink to one counts) that is not descended into.
    is_dir: bool,
    /// The stat of a `*.py` file, when prefetched.
    facts: Option<FileFacts>,
}

enum Outcome {
    Listed(Record),
    Failed(String),
}

/// Sorts `listing` as Python sorts `str`: code points, undecodable bytes as surrogates. For
/// valid UTF-8 that is plain byte order, so code points are only worked out when a name needs
/// them.
fn sort_python(listing: &mut Listing) {
    let Listing { names, entries } = listing;
    let name = |e: &RawEntry| &names[e.start as usize..(e.start + e.len) as usize];
    if std::str::from_utf8(names).is_ok() {
        entries.sort_unstable_by(|a, b| name(a).cmp(name(b)));
    } else {
        entries.sort_by_cached_key(|e| code_points(name(e)));
    }
}

/// Lists `dir` and gathers what `prefetch` asks for; returns the record, the names of the
/// subdirectories to descend into, and the `__pycache__` listing.
fn read_directory(
    dir: &Directory,
    path: &[u8],
    levels: usize,
    prefetch: &Prefetch<'_>,
    buf: &mut Vec<u8>,
) -> (Outcome, Vec<RawEntry>, Option<PycacheDir>) {
    let mut listing = match dir.list(buf) {
        Ok(listing) => listing,
        Err(error) => return (Outcome::Failed(error.to_string()), Vec::new(), None),
    };
    sort_python(&mut listing);
    // A real `__pycache__` directory, and whether anything at all bears that name.
    let mut pycache = false;
    let mut pycache_named = false;
    let mut kept = Vec::with_capacity(listing.entries.len());
    let mut facts = Vec::with_capacity(listing.entries.len());
    let mut subdirs = Vec::new();
    for entry in &listing.entries {
        let name = listing.name(entry);
        let is_py = prefetch.stat_sources && name.ends_with(b".py");
        let (is_dir, is_link, stat) = match entry.kind {
            Kind::Dir => (true, false, None),
            Kind::File | Kind::Other => (false, false, None),
            Kind::Symlink => {
                let target = dir.stat(name, true).ok();
                (target.is_some_and(|t| t.is_dir()), true, target)
            }
            Kind::Unknown => match dir.stat(name, false) {
                Ok(own) if own.is_symlink() => {
                    let target = dir.stat(name, true).ok();
                    (target.is_some_and(|t| t.is_dir()), true, target)
                }
                Ok(own) => (own.is_dir(), false, Some(own)),
                Err(_) => (false, false, None),
            },
        };
        if name == b"__pycache__" {
            pycache |= is_dir && !is_link;
            pycache_named = true;
            continue;
        }
        if !is_dir && prefetch.keep_files.is_some_and(|keep| !keep(name)) {
            continue;
        }
        let stat = if is_py && !is_dir {
            stat.or_else(|| dir.stat(name, true).ok())
        } else {
            None
        };
        let descend = is_dir && levels > 0 && !is_link;
        if descend {
            subdirs.push(*entry);
        }
        kept.push(*entry);
        facts.push(EntryFacts {
            descend,
            is_dir,
            facts: stat,
        });
    }
    listing.entries = kept;
    let heads = match prefetch.pycache {
        PycacheRead::Skip => None,
        PycacheRead::List(wanted) => pycache
            .then(|| list_pycache(dir, path, wanted, buf))
            .flatten(),
        PycacheRead::Probe(_) if pycache_named && !pycache => None, // a symlink, a file: ask the disk
        PycacheRead::Probe(suffixes) => probe_pycache(dir, path, pycache, &listing, suffixes),
    };
    (
        Outcome::Listed(Record {
            listing,
            facts,
            pycache,
        }),
        subdirs,
        heads,
    )
}

fn pycache_path(parent_path: &[u8]) -> OsString {
    OsString::from_vec(posix_join(parent_path, b"__pycache__"))
}

fn read_head(dir: &Directory, name: &[u8]) -> Head {
    let mut bytes = [0u8; HEAD_LEN];
    match dir.read_head(name, &mut bytes) {
        Ok(len) => Head::Read {
            bytes,
            len: len as u8,
        },
        Err(error) if error.raw_os_error().is_none() => Head::NotRegular,
        Err(error) => Head::Failed(error.raw_os_error().unwrap_or(libc::EIO)),
    }
}

fn sort_by_name(files: &mut [PycacheFile]) {
    files.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
}

/// Lists the `__pycache__` below `parent` and reads the header of every file `wanted` names.
fn list_pycache(
    parent: &Directory,
    parent_path: &[u8],
    wanted: NameFilter<'_>,
    buf: &mut Vec<u8>,
) -> Option<PycacheDir> {
    let dir = parent.open_subdir(b"__pycache__").ok()?;
    let listing = dir.list(buf).ok()?;
    let mut files: Vec<PycacheFile> = listing
        .entries
        .iter()
        .map(|entry| {
            let name = listing.name(entry);
            let is_file = match entry.kind {
                Kind::File => true,
                Kind::Unknown => dir.stat(name, false).is_ok_and(|f| f.is_file()),
                _ => false,
            };
            PycacheFile {
                name: OsString::from_vec(name.to_vec()),
                is_file,
                head: (entry.kind != Kind::Dir && wanted(name)).then(|| read_head(&dir, name)),
            }
        })
        .collect();
    sort_by_name(&mut files);
    Some(PycacheDir {
        path: pycache_path(parent_path),
        files,
        complete: true,
    })
}

/// Reads the header of each pyc the `*.py` files of `listing` would have in the `__pycache__`
/// below `parent` (`exists`: whether the listing holds one). A missing pyc is recorded as
/// `ENOENT`; with no `__pycache__` at all, every pyc in it is known to be missing.
fn probe_pycache(
    parent: &Directory,
    parent_path: &[u8],
    exists: bool,
    listing: &Listing,
    suffixes: &[Vec<u8>],
) -> Option<PycacheDir> {
    if !exists {
        return Some(PycacheDir {
            path: pycache_path(parent_path),
            files: Vec::new(),
            complete: true,
        });
    }
    let dir = parent.open_subdir(b"__pycache__").ok()?;
    let mut files = Vec::new();
    for entry in &listing.entries {
        let Some(stem) = listing.name(entry).strip_suffix(b".py") else {
            continue;
        };
        for suffix in suffixes {
            let mut name = Vec::with_capacity(stem.len() + suffix.len());
            name.extend_from_slice(stem);
            name.extend_from_slice(suffix);
            let head = read_head(&dir, &name);
            files.push(PycacheFile {
                name: OsString::from_vec(name),
                is_file: matches!(head, Head::Read { .. }),
                head: Some(head),
            });
        }
    }
    sort_by_name(&mut files);
    Some(PycacheDir {
        path: pycache_path(parent_path),
        files,
        complete: false,
    })
}

/// The shared queue of directories still to list, for the threads of [`list_tree`].
struct Walker<'a> {
    state: Mutex<WalkerState>,
    wake: Condvar,
    /// Threads waiting for work that no queued directory will feed: while this is above
    /// zero, a thread hands out subdirectories instead of descending into them itself.
    hungry: AtomicUsize,
    prefetch: &'a Prefetch<'a>,
}

struct WalkerState {
    queue: Vec<(OsString, usize)>,
    working: usize,
    waiting: usize,
}

/// What one thread listed.
#[derive(Default)]
struct Found {
    records: Vec<(OsString, Outcome)>,
    pycaches: Vec<PycacheDir>,
}

/// How deep one thread descends with directories held open before it queues the rest.
const MAX_HELD_DIRECTORIES: usize = 32;

impl Walker<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, WalkerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_hungry(&self, state: &WalkerState) {
        self.hungry.store(
            state.waiting.saturating_sub(state.queue.len()),
            Ordering::Relaxed,
        );
    }

    /// Takes queued directories until every thread is idle and the queue is empty.
    fn run(&self) -> Found {
        let mut found = Found::default();
        let mut buf = Vec::new();
        loop {
            let (path, levels) = {
                let mut state = self.lock();
                loop {
                    if let Some(next) = state.queue.pop() {
                        state.working += 1;
                        self.set_hungry(&state);
                        break next;
                    }
                    if state.working == 0 {
                        self.wake.notify_all();
                        return found;
                    }
                    state.waiting += 1;
                    self.set_hungry(&state);
                    state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                    state.waiting -= 1;
                    self.set_hungry(&state);
                }
            };
            match Directory::open(&path) {
                Ok(dir) => self.visit(&dir, path, levels, 0, &mut found, &mut buf),
                Err(error) => found
                    .records
                    .push((path, Outcome::Failed(error.to_string()))),
            }
            let mut state = self.lock();
            state.working -= 1;
            if state.working == 0 && state.queue.is_empty() {
                self.wake.notify_all();
            }
        }
    }

    /// Lists `dir`, then its subdirectories: opened from it while no thread is hungry and the
    /// descent is shallow, queued by path otherwise.
    fn visit(
        &self,
        dir: &Directory,
        path: OsString,
        levels: usize,
        held: usize,
        found: &mut Found,
        buf: &mut Vec<u8>,
    ) {
        let (outcome, subdirs, pycache) =
            read_directory(dir, path.as_bytes(), levels, self.prefetch, buf);
        found.pycaches.extend(pycache);
        let names = match &outcome {
            Outcome::Listed(record) => subdirs
                .iter()
                .map(|e| record.listing.name(e).to_vec())
                .collect(),
            Outcome::Failed(_) => Vec::new(),
        };
        let parent = path.as_bytes().to_vec();
        found.records.push((path, outcome));
        let mut names = names.into_iter();
        while let Some(name) = names.next() {
            let child = OsString::from_vec(posix_join(&parent, &name));
            if held >= MAX_HELD_DIRECTORIES {
                self.share(std::iter::once((child, levels - 1)));
                continue;
            }
            if self.hungry.load(Ordering::Relaxed) > 0 {
                // Hand over half of what is left here (never the one at hand): one wake-up
                // feeds the idle thread for a while.
                let mut mine: Vec<Vec<u8>> = names.by_ref().collect();
                let theirs = mine.split_off(mine.len() / 2);
                self.share(
                    theirs
                        .iter()
                        .map(|n| (OsString::from_vec(posix_join(&parent, n)), levels - 1)),
                );
                names = mine.into_iter();
            }
            match dir.open_subdir(&name) {
                Ok(sub) => self.visit(&sub, child, levels - 1, held + 1, found, buf),
                Err(error) => found
                    .records
                    .push((child, Outcome::Failed(error.to_string()))),
            }
        }
    }

    /// Queues directories for any thread to take.
    fn share(&self, dirs: impl Iterator<Item = (OsString, usize)>) {
        let mut state = self.lock();
        let before = state.queue.len();
        state.queue.extend(dirs);
        if state.queue.len() > before {
            self.set_hungry(&state);
            self.wake.notify_one();
        }
    }
}

/// Lists `root` and every directory below it that compileall would enter, on `threads`
/// threads, with what `prefetch` asks for.
fn list_tree(
    root: &OsStr,
    max_depth: usize,
    threads: usize,
    prefetch: &Prefetch<'_>,
) -> (HashMap<OsString, Outcome>, Vec<PycacheDir>) {
    let walker = Walker {
        state: Mutex::new(WalkerState {
            queue: vec![(root.to_owned(), max_depth)],
            working: 0,
            waiting: 0,
        }),
        wake: Condvar::new(),
        hungry: AtomicUsize::new(0),
        prefetch,
    };
    let found: Vec<Found> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.max(1))
            .map(|_| scope.spawn(|| walker.run()))
            .collect();
        let mut found = vec![walker.run()];
        found.extend(
            helpers
                .into_iter()
                .map(|h| h.join().expect("a walker thread panicked")),
        );
        found
    });
    let mut records = HashMap::new();
    let mut pycaches = Vec::new();
    for part in found {
        records.extend(part.records);
        pycaches.extend(part.pycaches);
    }
    (records, pycaches)
}

/// compileall's depth-first order over the listings.
fn emit(
    dir: &OsStr,
    root: usize,
    subdirs: &mut Vec<OsString>,
    listings: &HashMap<OsString, Outcome>,
    walk: &mut Walk,
) {
    let record = match listings.get(dir) {
        Some(Outcome::Listed(record)) => record,
        Some(Outcome::Failed(why)) => {
            walk.problems
                .push(WalkProblem::CantList(dir.to_owned(), why.clone()));
            return;
        }
        None => return,
    };
    if record.pycache {
        walk.pycache_dirs.push(OsString::from_vec(posix_join(
            dir.as_bytes(),
            b"__pycache__",
        )));
    }
    // Made for the directory's first file: most directories of a large tree hold none.
    let mut shared_subdirs: Option<Arc<Vec<OsString>>> = None;
    for (entry, facts) in record.listing.entries.iter().zip(&record.facts) {
        let name = record.listing.name(entry);
        if !facts.is_dir {
            walk.candidates.push(Candidate {
                path: OsString::from_vec(posix_join(dir.as_bytes(), name)),
                root,
                subdirs: Arc::clone(
                    shared_subdirs.get_or_insert_with(|| Arc::new(subdirs.clone())),
                ),
                explicit: false,
                facts: facts.facts,
            });
        } else if facts.descend {
            let full = OsString::from_vec(posix_join(dir.as_bytes(), name));
            subdirs.push(OsString::from_vec(name.to_vec()));
            emit(&full, root, subdirs, listings, walk);
            subdirs.pop();
        }
    }
}

/// How many bytes of each pyc the walk reads: the longest header.
const HEAD_LEN: usize = 16;

/// What the walk read of a pyc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Head {
    /// Its first bytes (up to [`HEAD_LEN`]).
    Read {
        /// The bytes; only `len` of them are the file's.
        bytes: [u8; HEAD_LEN],
        /// How many were read.
        len: u8,
    },
    /// Opening or reading failed with this `errno`.
    Failed(i32),
    /// Not a regular file (a FIFO, a device, a directory): never read.
    NotRegular,
}

impl Head {
    /// The bytes read, or the error as `std::io` reports it.
    pub(crate) fn bytes(&self) -> Result<&[u8], std::io::Error> {
        match self {
            Head::Read { bytes, len } => Ok(&bytes[..usize::from(*len)]),
            Head::Failed(errno) => Err(std::io::Error::from_raw_os_error(*errno)),
            Head::NotRegular => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a FIFO, a device or a directory)",
            )),
        }
    }

    /// The first `len` bytes read (a header's length), as a read of `len` bytes would give.
    pub(crate) fn header(&self, len: usize) -> Result<&[u8], std::io::Error> {
        self.bytes().map(|bytes| &bytes[..bytes.len().min(len)])
    }
}

/// A file in a `__pycache__`, as the walk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PycacheFile {
    pub(crate) name: OsString,
    /// A regular file (not following a symlink).
    pub(crate) is_file: bool,
    /// Its header, when the walk was asked to read it.
    pub(crate) head: Option<Head>,
}

/// A listed `__pycache__`, its files sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PycacheDir {
    pub(crate) path: OsString,
    pub(crate) files: Vec<PycacheFile>,
    /// Listed whole: a name not in `files` is not there. Otherwise only the names in `files`
    /// were looked at.
    pub(crate) complete: bool,
}

/// The `__pycache__` directories the walk listed, found by path.
#[derive(Debug, Clone, Default)]
pub(crate) struct PycacheListings {
    pub(crate) dirs: Vec<PycacheDir>,
    index: HashMap<OsString, usize>,
}

/// Where a pyc stands in the walk's listings.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// Its directory was not listed: ask the file system.
    Unknown,
    /// Its `__pycache__` was listed whole and holds no such name.
    Missing,
    /// Listed: the `__pycache__` (index in [`PycacheListings::dirs`]) and the file's index.
    Listed(usize, usize, &'a PycacheFile),
}

impl PycacheListings {
    /// The listings of every walk in `walks`, moved out of them into one index.
    pub(crate) fn take_from<'a>(walks: impl IntoIterator<Item = &'a mut Walk>) -> Self {
        let mut listings = PycacheListings::default();
        for walk in walks {
            listings.add(std::mem::take(&mut walk.pycaches.dirs));
        }
        listings
    }

    /// Adds `dirs`; a directory listed twice (roots inside one another) keeps the later listing.
    fn add(&mut self, dirs: Vec<PycacheDir>) {
        for dir in dirs {
            match self.index.get(&dir.path) {
                Some(&at) => self.dirs[at] = dir,
                None => {
                    self.index.insert(dir.path.clone(), self.dirs.len());
                    self.dirs.push(dir);
                }
            }
        }
    }

    /// The index in [`PycacheListings::dirs`] of the `__pycache__` at `path`, if listed.
    pub(crate) fn position(&self, path: &[u8]) -> Option<usize> {
        self.index.get(OsStr::from_bytes(path)).copied()
    }

    /// Finds the pyc at `path`.
    pub(crate) fn find(&self, path: &[u8]) -> Lookup<'_> {
        let Some(slash) = path.iter().rposition(|&b| b == b'/') else {
            return Lookup::Unknown;
        };
        let (parent, name) = (&path[..slash], &path[slash + 1..]);
        let Some(at) = self.position(parent) else {
            return Lookup::Unknown;
        };
        let files = &self.dirs[at].files;
        match files.binary_search_by(|f| f.name.as_bytes().cmp(name)) {
            Ok(i) => Lookup::Listed(at, i, &files[i]),
            Err(_) if self.dirs[at].complete => Lookup::Missing,
            Err(_) => Lookup::Unknown,
        }
    }
}

/// `compile_file`'s `-e` check: a symlinked file is kept only when its target resolves inside
/// `limit` (`Path(limit).resolve() in Path(fullname).resolve().parents`).
pub fn symlink_allowed(path: &Path, limit: &Path) -> bool {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return true;
    }
    let resolve = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()))
    };
    let limit = resolve(limit);
    let target: PathBuf = resolve(path);
    target.ancestors().skip(1).any(|parent| parent == limit)
}

/// `compile_file`'s early returns: `-x` finds the path, or `-e` rejects the symlink.
pub fn excluded(
    path: &OsStr,
    exclude: Option<&crate::exclude::Exclude>,
    limit_symlinks: Option<&Path>,
) -> bool {
    if exclude.is_some_and(|rx| rx.is_match(path)) {
        return true;
    }
    limit_symlinks.is_some_and(|limit| !symlink_allowed(Path::new(path), limit))
}

/// Walks every distinct root of `plan` (each target's roots and depth) once, as deep as the
/// deepest target needs, listing directories on `threads` threads and reading what
/// `prefetch` asks for.
pub(crate) fn walk_roots(
    plan: &[(&[OsString], usize)],
    threads: usize,
    prefetch: &Prefetch<'_>,
) -> HashMap<OsString, Walk> {
    let mut walks: HashMap<OsString, Walk> = HashMap::new();
    for (roots, _) in plan {
        for root in *roots {
            if walks.contains_key(root) {
                continue;
            }
            let depth = plan
                .iter()
                .filter(|(roots, _)| roots.contains(root))
                .map(|(_, depth)| *depth)
                .max()
                .unwrap_or(0);
            walks.insert(
                root.clone(),
                walk_prefetching(std::slice::from_ref(root), depth, threads, prefetch),
            );
        }
    }
    walks
}

/// True when the base name ends in `.py` (case-sensitive; a file named just `.py` counts).
pub fn has_py_suffix(path: &OsStr) -> bool {
    basename(path.as_bytes()).ends_with(b".py")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A tree wide at the top and deeper than one thread holds open, with pycs beside some
    /// sources.
    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..150 {
            let dir = tmp.path().join(format!("pkg{i:03}"));
            fs::create_dir_all(dir.join("__pycache__")).unwrap();
            fs::write(dir.join("a.py"), format!("x = {i}\n")).unwrap();
            fs::write(dir.join("data.txt"), "").unwrap();
            fs::write(dir.join("__pycache__/a.tag-1.pyc"), b"0123456789abcdefXYZ").unwrap();
        }
        let mut deep = tmp.path().join("deep");
        for level in 0..(MAX_HELD_DIRECTORIES + 8) {
            deep = deep.join(format!("d{level}"));
            fs::create_dir_all(&deep).unwrap();
            fs::write(deep.join("m.py"), "").unwrap();
        }
        tmp
    }

    /// The walk compileall makes, with std::fs, for names that sort bytewise.
    fn reference(dir: &Path, depth: usize, out: &mut Vec<(OsString, usize)>) {
        let mut names: Vec<OsString> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            if name == "__pycache__" {
                continue;
            }
            if path.is_dir() {
                reference(&path, depth + 1, out);
            } else {
                out.push((path.into_os_string(), depth));
            }
        }
    }

    #[test]
    fn every_thread_count_walks_in_compileall_order() {
        let tmp = tree();
        let root = tmp.path().as_os_str().to_owned();
        let mut expected = Vec::new();
        reference(tmp.path(), 0, &mut expected);
        for threads in [1, 2, 4] {
            let walk = walk_parallel(std::slice::from_ref(&root), 1000, threads);
            let got: Vec<(OsString, usize)> = walk
                .candidates
                .iter()
                .map(|c| (c.path.clone(), c.depth()))
                .collect();
            assert_eq!(got, expected, "{threads} threads");
            assert_eq!(walk.pycache_dirs.len(), 150);
        }
    }

    #[test]
    fn prefetched_stats_and_headers_match_the_file_system() {
        let tmp = tree();
        let root = tmp.path().as_os_str().to_owned();
        let suffixes = vec![b".tag-1.pyc".to_vec()];
        let is_source = |name: &[u8]| name.ends_with(b".py");
        let prefetch = Prefetch {
            stat_sources: true,
            pycache: PycacheRead::Probe(&suffixes),
            keep_files: Some(&is_source),
        };
        let walk = walk_prefetching(std::slice::from_ref(&root), 1000, 2, &prefetch);
        assert_eq!(walk.candidates.len(), 150 + MAX_HELD_DIRECTORIES + 8);
        for candidate in &walk.candidates {
            let metadata = fs::metadata(&candidate.path).unwrap();
            assert_eq!(candidate.facts, Some(FileFacts::from_metadata(&metadata)));
        }
        let pyc = tmp.path().join("pkg007/__pycache__/a.tag-1.pyc");
        match walk.pycaches.find(pyc.as_os_str().as_bytes()) {
            Lookup::Listed(_, _, file) => {
                assert_eq!(
                    file.head.as_ref().unwrap().bytes().unwrap(),
                    b"0123456789abcdef"
                );
            }
            other => panic!("{other:?}"),
        }
        fs::remove_file(&pyc).unwrap();
        let other = tmp.path().join("pkg007/__pycache__/a.tag-2.pyc");
        assert!(matches!(
            walk.pycaches.find(other.as_os_str().as_bytes()),
            Lookup::Unknown
        ));
        let no_pycache = tmp.path().join("deep/d0/__pycache__/m.tag-1.pyc");
        assert!(matches!(
            walk.pycaches.find(no_pycache.as_os_str().as_bytes()),
            Lookup::Missing
        ));
        let rewalk = walk_prefetching(std::slice::from_ref(&root), 1000, 2, &prefetch);
        match rewalk.pycaches.find(pyc.as_os_str().as_bytes()) {
            Lookup::Listed(_, _, file) => assert_eq!(
                file.head.as_ref().unwrap().bytes().unwrap_err().kind(),
                std::io::ErrorKind::NotFound
            ),
            other => panic!("{other:?}"),
        }
    }
}
