//! A directory opened once, and every lookup inside it made relative to its descriptor.
//!
//! A run where everything is fresh does nothing but system calls: list each directory, stat
//! each source, read each pyc's header. Made with full paths, each of those calls walks the
//! whole path again in the kernel; made with `openat`/`fstatat` on the directory's descriptor,
//! the kernel resolves one name. Listing with `getdents64` directly also spares the `fstat`
//! that `opendir` makes. This is the one place that speaks to the kernel this way; everything
//! above it sees names, kinds and [`FileFacts`].

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// True for a symbolic link (only seen when the link itself is stat'ed).
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
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

/// A NUL-terminated copy of a name, on the stack (names are at most 255 bytes).
struct CName {
    buf: [u8; 256],
}

impl CName {
    fn new(name: &[u8]) -> io::Result<Self> {
        if name.len() >= 256 || name.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        let mut buf = [0u8; 256];
        buf[..name.len()].copy_from_slice(name);
        Ok(CName { buf })
    }

    fn ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;

impl Directory {
    /// Opens the directory at `path` (following symlinks, as `os.listdir` does).
    pub(crate) fn open(path: &OsStr) -> io::Result<Self> {
        let path = std::ffi::CString::new(path.as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: `path` is NUL-terminated; the descriptor returned is owned here alone.
        let fd = check(unsafe { libc::open(path.as_ptr(), DIR_FLAGS) })?;
        // SAFETY: `fd` was just opened and is not owned elsewhere.
        Ok(Directory {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Opens the subdirectory `name`, refusing a symlink (the walk never follows one).
    pub(crate) fn open_subdir(&self, name: &[u8]) -> io::Result<Self> {
        let name = CName::new(name)?;
        // SAFETY: `name` is NUL-terminated and `self.fd` is open.
        let fd = check(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                name.ptr(),
                DIR_FLAGS | libc::O_NOFOLLOW,
            )
        })?;
        // SAFETY: `fd` was just opened and is not owned elsewhere.
        Ok(Directory {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// `stat` of `name` in this directory; `follow` follows a final symlink (as `os.stat`).
    pub(crate) fn stat(&self, name: &[u8], follow: bool) -> io::Result<FileFacts> {
        let name = CName::new(name)?;
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `name` is NUL-terminated, `st` is large enough for a `stat`.
        check(unsafe { libc::fstatat(self.fd.as_raw_fd(), name.ptr(), st.as_mut_ptr(), flags) })?;
        // SAFETY: fstatat succeeded, so it filled `st`.
        let st = unsafe { st.assume_init() };
        Ok(FileFacts {
            mode: st.st_mode,
            size: st.st_size as u64,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
        })
    }

    /// Reads the first bytes of file `name` into `out`, returning how many were read. A FIFO
    /// or device does not block the caller (the open is non-blocking) and is refused.
    pub(crate) fn read_head(&self, name: &[u8], out: &mut [u8]) -> io::Result<usize> {
        let name = CName::new(name)?;
        let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
        // SAFETY: `name` is NUL-terminated and `self.fd` is open.
        let fd = check(unsafe { libc::openat(self.fd.as_raw_fd(), name.ptr(), flags) })?;
        // SAFETY: `fd` was just opened and is not owned elsewhere; it closes on drop.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        crate::regular_file::check(&file)?;
        crate::regular_file::read_head(&mut file, out)
    }

    /// Every name in the directory but `.` and `..`, unsorted. `buf` is scratch space reused
    /// between calls.
    #[cfg(target_os = "linux")]
    pub(crate) fn list(&self, buf: &mut Vec<u8>) -> io::Result<Listing> {
        buf.resize(32 * 1024, 0);
        let mut listing = Listing::default();
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes of writes; getdents64 writes whole
            // records only.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Ok(listing);
            }
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            let mut offset = 0usize;
            let end = n as usize;
            while offset + 19 < end {
                let reclen = u16::from_ne_bytes([buf[offset + 16], buf[offset + 17]]) as usize;
                if reclen < 20 || offset + reclen > end {
                    // Not a record the kernel writes: refuse rather than misread.
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
                let d_type = buf[offset + 18];
                let record = &buf[offset + 19..offset + reclen];
                let name = &record[..record.iter().position(|&b| b == 0).unwrap_or(record.len())];
                offset += reclen;
                push(&mut listing, name, kind_of(d_type));
            }
        }
    }

    /// Every name in the directory but `.` and `..`, unsorted.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn list(&self, _buf: &mut Vec<u8>) -> io::Result<Listing> {
        // SAFETY: dup returns a new descriptor, which fdopendir then owns (closedir closes it).
        let fd = check(unsafe { libc::dup(self.fd.as_raw_fd()) })?;
        // SAFETY: `fd` is a fresh descriptor of a directory.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let error = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `fd` is still ours to close.
            unsafe { libc::close(fd) };
            return Err(error);
        }
        let mut listing = Listing::default();
        loop {
            // SAFETY: `dir` is an open directory stream.
            let entry = unsafe { libc::readdir(dir) };
            if entry.is_null() {
                break;
            }
            // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated.
            let (name, d_type) = unsafe {
                (
                    std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes(),
                    (*entry).d_type,
                )
            };
            push(&mut listing, name, kind_of(d_type));
        }
        // SAFETY: `dir` is open and closed once.
        unsafe { libc::closedir(dir) };
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

fn kind_of(d_type: u8) -> Kind {
    match d_type {
        libc::DT_REG => Kind::File,
        libc::DT_DIR => Kind::Dir,
        libc::DT_LNK => Kind::Symlink,
        libc::DT_UNKNOWN => Kind::Unknown,
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
        assert_eq!(dir.read_head(b"a.py", &mut head).unwrap(), 6);
        assert_eq!(&head[..6], b"x = 1\n");
        let missing = dir.read_head(b"nope", &mut head).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
