//! Listing a tree on several threads, then putting it in `compileall._walk_dir`'s order.
//!
//! Directories are listed on a rayon pool of the caller's size, a task per directory: it opens
//! the directory relative to its parent's descriptor (`openat`, one name for the kernel to
//! resolve), lists it, and spawns a task per subdirectory. A thread runs its own newest tasks
//! first (depth first) and an idle one steals the oldest, so the descriptors held open are
//! those of the directories whose subdirectories wait, at most [`MAX_HELD_DIRECTORIES`] deep.
//! The listings are then put in compileall's depth-first order without touching the file
//! system again, so the result does not depend on the number of threads or on who listed what.

use super::directory::{Directory, FileFacts, Kind, Listing, RawEntry};
use super::pycache::{PycacheDir, list_pycache, probe_pycache};
use super::select::posix_join;
use super::{Candidate, Prefetch, PycacheRead, Sink, WalkOptions, WalkProblem, WalkRoot};
use crate::freshness::PycHead;
use crate::python_str::code_points;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::{Arc, Mutex};

/// Walks one root into `sink`: a file named directly, a missing path, or a tree.
pub(super) fn walk_root(
    index: usize,
    root: &WalkRoot,
    options: &WalkOptions<'_>,
    pool: Option<&rayon::ThreadPool>,
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
            pyc_heads: None,
            unstated: false,
        }),
        Err(error)
            if error.kind() == std::io::ErrorKind::NotFound
                && std::fs::symlink_metadata(path).is_err() =>
        {
            sink.problem(WalkProblem::Missing(root.path.clone()));
        }
        _ => {
            let (mut listings, pycaches) =
                list_tree(&root.path, root.max_depth, pool, &options.prefetch);
            emit(&root.path, index, &mut Vec::new(), &mut listings, sink);
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

struct EntryFacts {
    /// A directory to recurse into (not a symlink, within the depth).
    descend: bool,
    /// The stat of a `*.py` file, when prefetched.
    facts: Option<FileFacts>,
    /// The first bytes of a `*.py` file's pycs, when prefetched.
    pyc_heads: Option<Box<[PycHead]>>,
    /// A regular file (as listed) whose stat was not made, none of its pycs being there: see
    /// [`Candidate::unstated`].
    unstated: bool,
    /// A file's path (`os.path.join(dir, name)`), made by the task that listed it; `None` for
    /// a directory (a symlink to one counts).
    path: Option<OsString>,
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
    // Probing beside no `__pycache__` at all finds every pyc absent: a regular source there is
    // stale whatever its stat, so none is made (see `Candidate::unstated`).
    let beside_no_pycache = matches!(prefetch.pycache, PycacheRead::Probe(_))
        && !(listing.entries.iter()).any(|entry| listing.name(entry) == b"__pycache__");
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
        let unstated = is_py && beside_no_pycache && entry.kind == Kind::File;
        let stat = if is_py && !is_dir && !unstated {
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
            facts: stat,
            pyc_heads: None,
            unstated,
            path: (!is_dir).then(|| OsString::from_vec(posix_join(path, name))),
        });
    }
    listing.entries = kept;
    let heads = match prefetch.pycache {
        PycacheRead::Skip => None,
        PycacheRead::List(wanted) => pycache
            .then(|| list_pycache(dir, path, wanted, buf))
            .flatten(),
        PycacheRead::Probe(_) if pycache_named && !pycache => None, // a symlink, a file: ask the disk
        PycacheRead::Probe(suffixes) => {
            let probed = probe_pycache(dir, pycache, &listing, suffixes);
            for (facts, heads) in facts.iter_mut().zip(probed.into_iter().flatten()) {
                facts.pyc_heads = heads.filter(|_| facts.path.is_some());
            }
            None
        }
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

/// What the threads listed: each directory's listing, and the `__pycache__` listings.
#[derive(Default)]
struct Found {
    records: Vec<(OsString, Listed)>,
    pycaches: Vec<PycacheDir>,
}

/// How many levels below a root directories are opened relative to their parent's descriptor
/// (which stays open while any of its subdirectories waits to be opened); deeper ones are
/// opened by path, so that the number of directories held open stays bounded.
pub(super) const MAX_HELD_DIRECTORIES: usize = 32;

thread_local! {
    /// Each thread's `getdents64` buffer, reused for every directory it lists.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The state the tasks of one [`list_tree`] share.
struct Lister<'a> {
    prefetch: &'a Prefetch<'a>,
    found: Mutex<Found>,
}

/// A directory to open: the subdirectory `name` of an open `parent`, or by path.
struct ToOpen {
    parent: Option<(Arc<Directory>, Vec<u8>)>,
    path: OsString,
    levels: usize,
    depth: usize,
}

impl Lister<'_> {
    fn record(&self, path: OsString, listed: Listed, pycache: Option<PycacheDir>) {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        found.records.push((path, listed));
        found.pycaches.extend(pycache);
    }

    /// Opens and lists one directory, then hands each subdirectory to a task of its own.
    fn visit<'s>(&'s self, scope: &rayon::Scope<'s>, to_open: ToOpen) {
        let ToOpen {
            parent,
            path,
            levels,
            depth,
        } = to_open;
        let opened = match &parent {
            Some((parent, name)) => parent.open_subdir(name),
            None => Directory::open(&path),
        };
        drop(parent); // closed once its last subdirectory is open
        let dir = match opened {
            Ok(dir) => dir,
            Err(error) => return self.record(path, Listed::Failed(error.to_string()), None),
        };
        let (listed, subdirs, pycache) = BUFFER.with_borrow_mut(|buf| {
            read_directory(&dir, path.as_bytes(), levels, self.prefetch, buf)
        });
        let names: Vec<Vec<u8>> = match &listed {
            Listed::Listed(record) => (subdirs.iter())
                .map(|e| record.listing.name(e).to_vec())
                .collect(),
            Listed::Failed(_) => Vec::new(),
        };
        let held = (depth < MAX_HELD_DIRECTORIES && !names.is_empty()).then(|| Arc::new(dir));
        for name in names {
            let child = ToOpen {
                path: OsString::from_vec(posix_join(path.as_bytes(), &name)),
                parent: held.as_ref().map(|dir| (Arc::clone(dir), name)),
                levels: levels - 1,
                depth: depth + 1,
            };
            scope.spawn(move |scope| self.visit(scope, child));
        }
        self.record(path, listed, pycache);
    }
}

/// Lists `root` and every directory below it that compileall would enter, on `pool` (rayon's
/// global pool without one), with what `prefetch` asks for.
fn list_tree(
    root: &OsStr,
    max_depth: usize,
    pool: Option<&rayon::ThreadPool>,
    prefetch: &Prefetch<'_>,
) -> (HashMap<OsString, Listed>, Vec<PycacheDir>) {
    let lister = Lister {
        prefetch,
        found: Mutex::new(Found::default()),
    };
    let start = ToOpen {
        parent: None,
        path: root.to_owned(),
        levels: max_depth,
        depth: 0,
    };
    let shared = &lister;
    match pool {
        Some(pool) => pool.scope(|scope| shared.visit(scope, start)),
        None => rayon::scope(|scope| shared.visit(scope, start)),
    }
    let found = lister.found.into_inner().unwrap_or_else(|p| p.into_inner());
    (found.records.into_iter().collect(), found.pycaches)
}

/// compileall's depth-first order over the listings.
fn emit(
    dir: &OsStr,
    root: usize,
    subdirs: &mut Vec<OsString>,
    listings: &mut HashMap<OsString, Listed>,
    sink: &mut impl Sink,
) {
    // Each directory is reached once: its record moves into the candidates.
    let record = match listings.remove(dir) {
        Some(Listed::Listed(record)) => record,
        Some(Listed::Failed(why)) => {
            sink.problem(WalkProblem::CantList(dir.to_owned(), why));
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
    for (entry, facts) in record.listing.entries.iter().zip(record.facts) {
        let name = record.listing.name(entry);
        if let Some(path) = facts.path {
            sink.file(Candidate {
                path,
                root,
                subdirs: Arc::clone(
                    shared_subdirs.get_or_insert_with(|| Arc::new(subdirs.clone())),
                ),
                explicit: false,
                facts: facts.facts,
                pyc_heads: facts.pyc_heads,
                unstated: facts.unstated,
            });
        } else if facts.descend {
            let full = OsString::from_vec(posix_join(dir.as_bytes(), name));
            subdirs.push(OsString::from_vec(name.to_vec()));
            emit(&full, root, subdirs, listings, sink);
            subdirs.pop();
        }
    }
}
