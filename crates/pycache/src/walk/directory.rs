//! A directory opened once, and every lookup inside it made relative to its descriptor.
//!
//! A run where everything is fresh does nothing but system calls: list each directory, stat
//! each source, read each pyc's header. Made with full paths, each of those calls walks the
//! whole path again in the kernel; made with `openat`/`fstatat` on the directory's descriptor,
//! the kernel resolves one name. Listing with `getdents64` directly (rustix's [`RawDir`], into
//! a buffer the caller reuses) also spares the `fstat` and the allocation that `opendir`
//! makes. This is the one place that speaks to the kernel this way; everything above it sees
//! names, kinds and [`FileFacts`]. (CPython's `os.scandir` does the same on a path.)

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

/// What a stat says about a file that freshness and compiling need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// `st_mode`.
    pub mode: u32,
    /// `st_size`.
    pub size: u64,
    /// `st_mtime`, whole seconds.
    pub mtime: i64,
    /// `st_mtime`'s nanoseconds.
    pub mtime_nsec: i64,
}

impl FileFacts {
    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        FileType::from_raw_mode(self.mode) == FileType::RegularFile
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        FileType::from_raw_mode(self.mode) == FileType::Directory
    }

    /// True for a symbolic link (only seen when the link itself is stat'ed).
    pub fn is_symlink(&self) -> bool {
        FileType::from_raw_mode(self.mode) == FileType::Symlink
    }

    /// The facts of `metadata`.
    pub fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileFacts {
            mode: metadata.mode(),
            size: metadata.size(),
            mtime: metadata.mtime(),
            mtime_nsec: metadata.mtime_nsec(),
        }
    }

    /// The facts timestamp validation compares.
    pub fn source_stat(&self) -> crate::freshness::SourceStat {
        crate::freshness::SourceStat {
            mtime: crate::header::python_mtime(self.mtime, self.mtime_nsec),
            size: self.size,
        }
    }
}

/// What `getdents` says an entry is (`d_type`); `Unknown` means a stat must tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Other,
    Unknown,
}

/// One name in a listing: a range of the listing's name buffer, and its kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEntry {
    pub(crate) start: u32,
    pub(crate) len: u32,
    pub(crate) kind: Kind,
}

/// The names of a directory, all in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) names: Vec<u8>,
    pub(crate) entries: Vec<RawEntry>,
}

impl Listing {
    pub(crate) fn name(&self, entry: &RawEntry) -> &[u8] {
        &self.names[entry.start as usize..(entry.start + entry.len) as usize]
    }
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct Directory {
    fd: OwnedFd,
}

/// The flags every directory is opened with.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// Bytes of `getdents64` records read per system call.
const LIST_BUFFER: usize = 32 * 1024;

impl Directory {
    /// Opens the directory at `path` (following symlinks, as `os.listdir` does).
    pub(crate) fn open(path: &OsStr) -> io::Result<Self> {
        let fd = rustix::fs::open(path, DIR_FLAGS, Mode::empty())?;
        Ok(Directory { fd })
    }

    /// Opens the subdirectory `name`, refusing a symlink (the walk never follows one).
    pub(crate) fn open_subdir(&self, name: &[u8]) -> io::Result<Self> {
        let fd = rustix::fs::openat(
            &self.fd,
            OsStr::from_bytes(name),
            DIR_FLAGS | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Ok(Directory { fd })
    }

    /// `stat` of `name` in this directory; `follow` follows a final symlink (as `os.stat`).
    pub(crate) fn stat(&self, name: &[u8], follow: bool) -> io::Result<FileFacts> {
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        let st = rustix::fs::statat(&self.fd, OsStr::from_bytes(name), flags)?;
        Ok(FileFacts {
            mode: st.st_mode as u32,
            size: st.st_size as u64,
            mtime: st.st_mtime as i64,
            mtime_nsec: st.st_mtime_nsec as i64,
        })
    }

    /// Opens file `name` for reading without blocking (a FIFO or a device never holds the
    /// caller up), and checks that it is a regular file.
    pub(crate) fn open_regular(&self, name: &[u8]) -> io::Result<std::fs::File> {
        let file = self.open_nonblocking(name)?;
        crate::regular_file::check(&file)?;
        Ok(file)
    }

    /// Opens file `name` for reading without blocking, whatever it is, to read the first bytes
    /// of a pyc with one system call fewer than [`Directory::open_regular`] (its `fstat`: a
    /// no-op run makes one per pyc). Safe where only those bytes are judged: a FIFO opened so
    /// reads as empty and a directory fails with `EISDIR`, so either is stale and the write
    /// that follows refuses it; a device reads as whatever it gives, as it does for
    /// `compileall`'s own `open(cfile, 'rb').read(12)`.
    pub(crate) fn open_nonblocking(&self, name: &[u8]) -> io::Result<std::fs::File> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = rustix::fs::openat(&self.fd, OsStr::from_bytes(name), flags, Mode::empty())?;
        Ok(std::fs::File::from(fd))
    }

    /// Every name in the directory but `.` and `..`, unsorted. `buf` is scratch space reused
    /// between calls.
    pub(crate) fn list(&self, buf: &mut Vec<u8>) -> io::Result<Listing> {
        buf.clear();
        buf.reserve(LIST_BUFFER);
        let mut entries = RawDir::new(&self.fd, buf.spare_capacity_mut());
        let mut listing = Listing::default();
        while let Some(entry) = entries.next() {
            let entry = entry?;
            push(
                &mut listing,
                entry.file_name().to_bytes(),
                kind_of(entry.file_type()),
            );
        }
        Ok(listing)
    }
}

fn push(listing: &mut Listing, name: &[u8], kind: Kind) {
    if name == b"." || name == b".." || name.is_empty() {
        return;
    }
    listing.entries.push(RawEntry {
        start: listing.names.len() as u32,
        len: name.len() as u32,
        kind,
    });
    listing.names.extend_from_slice(name);
}

fn kind_of(file_type: FileType) -> Kind {
    match file_type {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Unknown => Kind::Unknown,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_stats_and_reads_relative_to_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.py"), b"x = 1\n").unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("a.py", tmp.path().join("link.py")).unwrap();
        let many: Vec<String> = (0..2000)
            .map(|i| format!("file-{i:04}-{}", "x".repeat(40)))
            .collect();
        for name in &many {
            std::fs::write(tmp.path().join(name), b"").unwrap();
        }
        let dir = Directory::open(tmp.path().as_os_str()).unwrap();
        let listing = dir.list(&mut Vec::new()).unwrap();
        let mut names: Vec<(Vec<u8>, Kind)> = listing
            .entries
            .iter()
            .map(|e| (listing.name(e).to_vec(), e.kind))
            .collect();
        names.sort();
        assert_eq!(
            names.len(),
            2003,
            "a listing larger than one getdents buffer is whole"
        );
        assert!(names.contains(&(b"a.py".to_vec(), Kind::File)));
        assert!(names.contains(&(b"sub".to_vec(), Kind::Dir)));
        assert!(names.contains(&(b"link.py".to_vec(), Kind::Symlink)));

        let facts = dir.stat(b"link.py", true).unwrap();
        let metadata = std::fs::metadata(tmp.path().join("a.py")).unwrap();
        assert_eq!(facts, FileFacts::from_metadata(&metadata));
        assert!(dir.stat(b"link.py", false).unwrap().is_symlink());
        assert!(dir.open_subdir(b"link.py").is_err());
        assert!(dir.open_subdir(b"sub").is_ok());

        let mut head = [0u8; 16];
        let mut file = dir.open_regular(b"a.py").unwrap();
        assert_eq!(
            crate::regular_file::read_head(&mut file, &mut head).unwrap(),
            6
        );
        assert_eq!(&head[..6], b"x = 1\n");
        let missing = dir.open_regular(b"nope").unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Directory::open(tmp.path().as_os_str()).unwrap();
        rustix::fs::mknodat(&dir.fd, "x.pyc", FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).unwrap();
        let listing = dir.list(&mut Vec::new()).unwrap();
        assert_eq!(listing.entries[0].kind, Kind::Other);
        let error = dir.open_regular(b"x.pyc").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("FIFO"), "{error}");
    }
}
