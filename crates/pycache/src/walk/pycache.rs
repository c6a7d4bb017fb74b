//! What the walk reads of the `__pycache__` beside the sources, so that freshness finds it
//! without touching the disk again: the directory's names, and the first bytes of the pycs
//! asked about (`SourceLoader.get_code` reads no more than that before deciding).

use super::NameFilter;
use super::directory::{Directory, Kind, Listing};
use super::select::posix_join;
use crate::freshness::PycHead;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

fn pycache_path(parent_path: &[u8]) -> OsString {
    OsString::from_vec(posix_join(parent_path, b"__pycache__"))
}

/// What the walk reads of the pyc `name` in `dir`. `regular`: the listing said it is a
/// regular file, or it will only be judged by its first bytes (see
/// [`Directory::open_nonblocking`]); either way the `fstat` that refuses other files is spared.
fn read_head(dir: &Directory, name: &[u8], regular: bool) -> PycHead {
    if regular {
        PycHead::read(|| dir.open_nonblocking(name))
    } else {
        PycHead::read(|| dir.open_regular(name))
    }
}

fn sort_by_name(files: &mut [PycacheFile]) {
    files.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
}

/// Lists the `__pycache__` below `parent` and reads the header of every file `wanted` names.
pub(super) fn list_pycache(
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
                head: (entry.kind != Kind::Dir && wanted(name))
                    .then(|| read_head(&dir, name, entry.kind == Kind::File)),
            }
        })
        .collect();
    sort_by_name(&mut files);
    Some(PycacheDir {
        path: pycache_path(parent_path),
        files,
    })
}

/// The first bytes of each pyc that the `*.py` files of `listing` would have in the
/// `__pycache__` below `parent` (`exists`: whether the listing holds one), one per suffix, in
/// the order of `listing`'s entries (`None` for a name not ending in `.py`). A missing pyc
/// reads as `ENOENT`; with no `__pycache__` at all, every pyc is known to be missing without a
/// system call. `None` when the `__pycache__` cannot be opened (the caller asks the file
/// system later).
pub(super) fn probe_pycache(
    parent: &Directory,
    exists: bool,
    listing: &Listing,
    suffixes: &[Vec<u8>],
) -> Option<Vec<Option<Box<[PycHead]>>>> {
    let dir = if exists {
        Some(parent.open_subdir(b"__pycache__").ok()?)
    } else {
        None
    };
    let mut name = Vec::new();
    let heads = listing.entries.iter().map(|entry| {
        let stem = listing.name(entry).strip_suffix(b".py")?;
        let heads = suffixes.iter().map(|suffix| match &dir {
            Some(dir) => {
                name.clear();
                name.extend_from_slice(stem);
                name.extend_from_slice(suffix);
                read_head(dir, &name, true)
            }
            None => PycHead::Absent,
        });
        Some(heads.collect())
    });
    Some(heads.collect())
}

/// A file in a `__pycache__`, as the walk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PycacheFile {
    pub(crate) name: OsString,
    /// A regular file (not following a symlink).
    pub(crate) is_file: bool,
    /// Its header, when the walk was asked to read it.
    pub(crate) head: Option<PycHead>,
}

/// A `__pycache__` listed whole, its files sorted by name: a name not in `files` is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PycacheDir {
    pub(crate) path: OsString,
    pub(crate) files: Vec<PycacheFile>,
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
    /// Adds `dirs`; a directory listed twice (roots inside one another) keeps the later listing.
    pub(super) fn add(&mut self, dirs: Vec<PycacheDir>) {
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
            Err(_) => Lookup::Missing,
        }
    }
}
