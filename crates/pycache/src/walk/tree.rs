//! Listing a tree on several threads, then putting it in `compileall._walk_dir`'s order.
//!
//! Directories are listed on several threads; a thread descends into its own subdirectories
//! (holding at most [`MAX_HELD_DIRECTORIES`] open) and hands half of what is left to a thread
//! that runs dry. The listings are then put in compileall's depth-first order without touching
//! the file system again, so the result does not depend on the number of threads.
//!
//! Why not rayon (which [`crate::parallel`] uses): a thread here opens each subdirectory
//! relative to its parent's descriptor (`openat`, one name for the kernel to resolve), so a
//! descent keeps its ancestors open, and the number held is bounded per thread
//! ([`MAX_HELD_DIRECTORIES`]) to stay within the open-files limit. Work is handed out by path
//! only when a thread runs dry, half of what is left at a time. A rayon task per subdirectory
//! would have to carry its parent's descriptor (an `Arc`) while queued, leaving the number of
//! open directories to the queue's depth, or else open by full path and lose the `openat`
//! that makes a no-op run cheap; and it would box one job per directory. This scheduler is
//! kept until a benchmark (which this change could not run) says rayon's does as well.

use super::directory::{Directory, FileFacts, Kind, Listing, RawEntry};
use super::pycache::{PycacheDir, list_pycache, probe_pycache};
use super::select::posix_join;
use super::{Candidate, Prefetch, PycacheRead, Sink, WalkOptions, WalkProblem, WalkRoot};
use crate::python_str::code_points;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Walks one root into `sink`: a file named directly, a missing path, or a tree.
pub(super) fn walk_root(
    index: usize,
    root: &WalkRoot,
    options: &WalkOptions<'_>,
    sink: &mut impl Sink,
) {
    let path = std::path::Path::new(&root.path);
    sink.root(&root.path);
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => sink.file(Candidate {
            path: root.path.clone(),
            root: index,
            subdirs: Arc::new(Vec::new()),
            explicit: true,
            facts: Some(FileFacts::from_metadata(&metadata)),
        }),
        Err(error)
            if error.kind() == std::io::ErrorKind::NotFound
                && std::fs::symlink_metadata(path).is_err() =>
        {
            sink.problem(WalkProblem::Missing(root.path.clone()));
        }
        _ => {
            let (listings, pycaches) = list_tree(
                &root.path,
                root.max_depth,
                options.threads,
                &options.prefetch,
            );
            emit(&root.path, index, &mut Vec::new(), &listings, sink);
            sink.pycache_listings(pycaches);
        }
    }
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

/// A directory listed, or why it could not be.
enum Listed {
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

/// Whether the entry `name` of `dir` (of `kind`, as listed) is a directory (following a
/// symlink, as `os.path.isdir`) and a symlink, with its stat when one had to be made.
fn what_is(dir: &Directory, name: &[u8], kind: Kind) -> (bool, bool, Option<FileFacts>) {
    match kind {
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
) -> (Listed, Vec<RawEntry>, Option<PycacheDir>) {
    let mut listing = match dir.list(buf) {
        Ok(listing) => listing,
        Err(error) => return (Listed::Failed(error.to_string()), Vec::new(), None),
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
        let (is_dir, is_link, stat) = what_is(dir, name, entry.kind);
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
        Listed::Listed(Record {
            listing,
            facts,
            pycache,
        }),
        subdirs,
        heads,
    )
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
    records: Vec<(OsString, Listed)>,
    pycaches: Vec<PycacheDir>,
}

/// How deep one thread descends with directories held open before it queues the rest.
pub(super) const MAX_HELD_DIRECTORIES: usize = 32;

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
                    .push((path, Listed::Failed(error.to_string()))),
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
            Listed::Listed(record) => subdirs
                .iter()
                .map(|e| record.listing.name(e).to_vec())
                .collect(),
            Listed::Failed(_) => Vec::new(),
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
                    .push((child, Listed::Failed(error.to_string()))),
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
) -> (HashMap<OsString, Listed>, Vec<PycacheDir>) {
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
    listings: &HashMap<OsString, Listed>,
    sink: &mut impl Sink,
) {
    let record = match listings.get(dir) {
        Some(Listed::Listed(record)) => record,
        Some(Listed::Failed(why)) => {
            sink.problem(WalkProblem::CantList(dir.to_owned(), why.clone()));
            return;
        }
        None => return,
    };
    if record.pycache {
        sink.pycache_dir(OsString::from_vec(posix_join(
            dir.as_bytes(),
            b"__pycache__",
        )));
    }
    // Made for the directory's first file: most directories of a large tree hold none.
    let mut shared_subdirs: Option<Arc<Vec<OsString>>> = None;
    for (entry, facts) in record.listing.entries.iter().zip(&record.facts) {
        let name = record.listing.name(entry);
        if !facts.is_dir {
            sink.file(Candidate {
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
            emit(&full, root, subdirs, listings, sink);
            subdirs.pop();
        }
    }
}
