//! Writing pycs the way `py_compile` does, and never leaving half a file.
//!
//! `py_compile` refuses to write through a symlink or over anything that is not a regular file
//! (import would silently replace it), creates the directory with `os.makedirs`, and writes with
//! `_write_atomic`: a temporary file `<cfile>.<number>` in the same directory, opened with
//! `O_EXCL` and the source's mode (`| 0o200`, `& 0o666`, then the umask), then renamed over the
//! target. A failure removes the temporary file. The same is done here, so a reader sees either
//! the old pyc or the complete new one. The temporary file is held under an advisory lock
//! (`flock`) while it is written, so that `pycache clean` running meanwhile leaves it alone.
//!
//! A pyc that the walk found missing (all of them in a tree compiled for the first time, a new
//! interpreter's or level's beside others) is written without any temporary name: as an
//! unnamed file in its directory (`O_TMPFILE`), given its name with `linkat` once complete.
//! Nothing is ever visible before it is whole, a crash leaves nothing behind (the kernel frees
//! an unnamed file), and no lock is needed: one system call fewer per pyc (no `flock`; the
//! `linkat` takes the `rename`'s place, and costs less). If the name was taken meanwhile, the
//! file is linked under a temporary name and renamed over it, as above. Where the kernel is
//! older than 6.0 (see [`Way`]), the file system has no unnamed files, or the process may not
//! link one (`linkat` of a descriptor needs `CAP_DAC_READ_SEARCH`, and the `/proc/self/fd`
//! route `/proc`), the pyc is written as `py_compile` writes it.

use super::Failure;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Python's rendering of an OS error: `PermissionError: [Errno 13] Permission denied: 'path'`.
pub(crate) fn python_os_error(error: &std::io::Error, path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Some(errno) = error.raw_os_error() else {
        return format!(
            "OSError: {error}: {}",
            crate::python_str::repr(path.as_os_str().as_bytes())
        );
    };
    let class = match errno {
        libc::EACCES | libc::EPERM => "PermissionError",
        libc::ENOENT => "FileNotFoundError",
        libc::EEXIST => "FileExistsError",
        libc::EISDIR => "IsADirectoryError",
        libc::ENOTDIR => "NotADirectoryError",
        libc::EINTR => "InterruptedError",
        _ => "OSError",
    };
    let text = error.to_string();
    let strerror = text.split(" (os error").next().unwrap_or(&text);
    format!(
        "{class}: [Errno {errno}] {strerror}: {}",
        crate::python_str::repr(path.as_os_str().as_bytes())
    )
}

/// `py_compile`'s refusal to replace a symlink or a non-regular file.
pub(crate) fn check_target(cfile: &Path) -> Result<(), Failure> {
    let Ok(metadata) = std::fs::symlink_metadata(cfile) else {
        return Ok(());
    };
    let file_type = metadata.file_type();
    if file_type.is_symlink() || !file_type.is_file() {
        return Err(Failure::NotRegularFile {
            path: cfile.to_owned(),
            symlink: file_type.is_symlink(),
        });
    }
    Ok(())
}

/// `_calc_mode`: the source's mode with owner-write added (0o666 when it cannot be read).
pub(crate) fn pyc_mode(source_metadata: Option<&std::fs::Metadata>) -> u32 {
    source_metadata.map_or(0o666, |m| m.mode() | 0o200) & 0o666
}

fn temporary_name(cfile: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    let number = u64::from(pid) * 1_000_000 + COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = cfile.as_os_str().to_owned().into_vec();
    name.extend_from_slice(format!(".{number}").as_bytes());
    PathBuf::from(OsString::from_vec(name))
}

/// `os.makedirs` of the pyc's directory, as `py_compile` calls it: `FileExistsError` ignored.
fn make_dirs(cfile: &Path) -> Result<(), Failure> {
    if let Some(dir) = cfile.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(error) = std::fs::create_dir_all(dir)
        && error.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(Failure::io(dir, error));
    }
    Ok(())
}

/// Creates the pyc's directory (`os.makedirs`, default mode) and writes `parts` to `cfile`
/// atomically with `mode`, in one `writev`. `missing`: the walk found no file at `cfile`, so
/// it is written unnamed first (see the module doc); only a hint, since what is there by then
/// is replaced either way (the caller has refused a symlink or a non-regular file there, as
/// `py_compile` does). The directory is made only when the file cannot be created for want of
/// it (most already exist: this spares a `mkdir` and a `stat` per pyc); the errors are
/// `py_compile`'s either way.
pub(crate) fn write_pyc(
    cfile: &Path,
    parts: &[&[u8]],
    mode: u32,
    missing: bool,
) -> Result<(), Failure> {
    if missing && let Some(written) = write_unnamed(cfile, parts, mode) {
        return written;
    }
    write_named(cfile, parts, mode)
}

/// `_write_atomic`: a temporary file beside `cfile`, locked while written, renamed over it.
fn write_named(cfile: &Path, parts: &[&[u8]], mode: u32) -> Result<(), Failure> {
    let temporary = temporary_name(cfile);
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)
    };
    let file = match create() {
        Err(error) if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            make_dirs(cfile)?;
            create()
        }
        other => other,
    };
    let written = file.and_then(|mut file| {
        // `pycache clean` leaves a locked temporary file alone; the lock goes with the close.
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        write_parts(&mut file, parts)?;
        drop(file);
        std::fs::rename(&temporary, cfile)
    });
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        Failure::io(temporary, error)
    })
}

/// Writes `parts` to an unnamed file in `cfile`'s directory and links it as `cfile` (over
/// whatever took that name meanwhile, by a temporary name and a rename). `None` when this
/// cannot be done here (no unnamed files on this file system or kernel, no way to link one, or
/// any failure before the file was complete): the caller writes it the named way, whose errors
/// are `py_compile`'s.
fn write_unnamed(cfile: &Path, parts: &[&[u8]], mode: u32) -> Option<Result<(), Failure>> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    if way() == Way::Named {
        return None;
    }
    let dir = cfile
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    let open = || rustix::fs::open(dir, flags, Mode::from_raw_mode(mode));
    let fd = match open() {
        Err(Errno::NOENT) => {
            make_dirs(cfile).ok()?;
            open().ok()?
        }
        // No unnamed files here (NFS, older overlayfs; `EISDIR` from kernels before 3.11):
        // this process writes every later pyc the named way, without asking again (a tree
        // spread over several file systems only loses the shorter way).
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
            WAY.store(Way::Named as u8, Ordering::Relaxed);
            return None;
        }
        other => other.ok()?,
    };
    let mut file = std::fs::File::from(fd);
    write_parts(&mut file, parts).ok()?;
    match link(&file, cfile) {
        Ok(()) => Some(Ok(())),
        Err(Errno::EXIST) => Some(
            // Locked, as in `write_named`, for the moment it has a temporary name.
            link_over(cfile, |temporary| {
                rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
                Ok(link(&file, temporary)?)
            })
            .map_err(|(temporary, error)| Failure::io(temporary, error)),
        ),
        Err(_) => None,
    }
}

/// Gives `cfile` a file atomically: `link` makes it under a temporary name beside `cfile`,
/// then that is renamed over `cfile`. On failure the temporary name is removed, and the error
/// comes with it.
fn link_over(
    cfile: &Path,
    link: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), (PathBuf, std::io::Error)> {
    let temporary = temporary_name(cfile);
    link(&temporary)
        .and_then(|()| std::fs::rename(&temporary, cfile))
        .map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            (temporary, error)
        })
}

/// How this process writes a pyc that is not there yet, learned once: not known yet, an
/// unnamed file linked with `linkat` of its descriptor (`AT_EMPTY_PATH`: needs
/// `CAP_DAC_READ_SEARCH`) or of its `/proc/self/fd` link, or the named way (a kernel before
/// 6.0, where an unnamed file on a file system without POSIX ACLs ignores the umask and so
/// would not get `py_compile`'s mode; a file system without unnamed files; no route to link
/// one).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Way {
    Unknown,
    EmptyPath,
    Proc,
    Named,
}

static WAY: AtomicU8 = AtomicU8::new(Way::Unknown as u8);

/// The way learned so far; the kernel's version is looked at the first time.
fn way() -> Way {
    static KERNEL_CHECKED: std::sync::Once = std::sync::Once::new();
    KERNEL_CHECKED.call_once(|| {
        if !umask_applies_to_unnamed_files(rustix::system::uname().release().to_bytes()) {
            WAY.store(Way::Named as u8, Ordering::Relaxed);
        }
    });
    match WAY.load(Ordering::Relaxed) {
        0 => Way::Unknown,
        1 => Way::EmptyPath,
        2 => Way::Proc,
        _ => Way::Named,
    }
}

/// Whether a kernel of this release (`uname -r`) applies the umask to every unnamed file (from
/// 6.0, commit ac6800e279a2 "fs: Add missing umask strip in vfs_tmpfile").
fn umask_applies_to_unnamed_files(release: &[u8]) -> bool {
    let mut numbers = release
        .split(|&b| !b.is_ascii_digit())
        .map(|digits| std::str::from_utf8(digits).ok()?.parse::<u32>().ok());
    matches!(numbers.next(), Some(Some(major)) if major >= 6)
}

/// Gives the unnamed `file` the name `name` (`EEXIST` when it is taken), by the route this
/// process learned; while none is known, the descriptor's own and then `/proc`'s are tried,
/// and if both fail, the named way is taken from then on.
fn link(file: &std::fs::File, name: &Path) -> rustix::io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    use rustix::io::Errno;
    let way = way();
    let learn = |learned: Way| {
        if way == Way::Unknown {
            WAY.store(learned as u8, Ordering::Relaxed);
        }
    };
    if matches!(way, Way::Unknown | Way::EmptyPath) {
        match rustix::fs::linkat(file, "", CWD, name, AtFlags::EMPTY_PATH) {
            Ok(()) => {
                learn(Way::EmptyPath);
                return Ok(());
            }
            Err(error) if error == Errno::EXIST || way == Way::EmptyPath => return Err(error),
            Err(_) => {}
        }
    }
    use std::os::fd::AsRawFd;
    let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    let linked = rustix::fs::linkat(CWD, &proc, CWD, name, AtFlags::SYMLINK_FOLLOW);
    match linked {
        Ok(()) => learn(Way::Proc),
        Err(Errno::EXIST) => {}
        Err(_) => learn(Way::Named),
    }
    linked
}

/// Writes `parts` in order with one `writev` (no copy into one buffer first); what a short
/// write left is written after.
fn write_parts(file: &mut std::fs::File, parts: &[&[u8]]) -> std::io::Result<()> {
    let slices: Vec<std::io::IoSlice<'_>> =
        parts.iter().map(|&p| std::io::IoSlice::new(p)).collect();
    let mut done = loop {
        match file.write_vectored(&slices) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            other => break other?,
        }
    };
    for part in parts {
        let skip = done.min(part.len());
        file.write_all(&part[skip..])?;
        done -= skip;
    }
    Ok(())
}

/// `--hardlink-dupes`: makes `cfile` a hard link to `previous` (atomically: link to a temporary
/// name, then rename over `cfile`).
pub(crate) fn hardlink(previous: &Path, cfile: &Path) -> Result<(), Failure> {
    link_over(cfile, |temporary| std::fs::hard_link(previous, temporary))
        .map_err(|(_, error)| Failure::io(cfile, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The process's umask, read without setting it (other tests create files meanwhile).
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }

    #[test]
    fn every_route_writes_the_whole_file_with_its_mode_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let pycache = dir.path().join("__pycache__");
        let check = |name: &str| {
            let cfile = pycache.join(name);
            assert_eq!(std::fs::read(&cfile).unwrap(), b"headpayload", "{name}");
            let mode = std::fs::metadata(&cfile).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640 & !umask(), "{name}");
        };
        // Each way, into a directory that does not exist yet and into one that does.
        let parts: &[&[u8]] = &[b"head", b"payload"];
        let unnamed = |name: &str| write_unnamed(&pycache.join(name), parts, 0o640);
        assert!(
            matches!(unnamed("a.pyc"), Some(Ok(()))),
            "unnamed files work here"
        );
        check("a.pyc");
        write_named(&pycache.join("b.pyc"), parts, 0o640).unwrap();
        check("b.pyc");
        std::fs::remove_dir_all(&pycache).unwrap();
        write_named(&pycache.join("c.pyc"), parts, 0o640).unwrap();
        check("c.pyc");
        assert!(matches!(unnamed("d.pyc"), Some(Ok(()))));
        check("d.pyc");
        // And as callers ask: either way, the file is whole.
        write_pyc(&pycache.join("e.pyc"), parts, 0o640, true).unwrap();
        write_pyc(&pycache.join("f.pyc"), parts, 0o640, false).unwrap();
        check("e.pyc");
        check("f.pyc");
        assert_eq!(
            test_support::file_names(&pycache),
            ["c.pyc", "d.pyc", "e.pyc", "f.pyc"]
        );
    }

    #[test]
    fn an_absent_pyc_whose_name_was_taken_meanwhile_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let cfile = dir.path().join("m.pyc");
        std::fs::write(&cfile, b"old").unwrap();
        assert!(matches!(
            write_unnamed(&cfile, &[b"new"], 0o644),
            Some(Ok(()))
        ));
        assert_eq!(std::fs::read(&cfile).unwrap(), b"new");
        // A symlink that appeared is replaced; what it points to is left as it was.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"kept").unwrap();
        let linked = dir.path().join("l.pyc");
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        assert!(matches!(
            write_unnamed(&linked, &[b"new"], 0o644),
            Some(Ok(()))
        ));
        assert!(!std::fs::symlink_metadata(&linked).unwrap().is_symlink());
        assert_eq!(std::fs::read(&linked).unwrap(), b"new");
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"kept");
        assert_eq!(
            test_support::file_names(dir.path()),
            ["elsewhere", "l.pyc", "m.pyc"]
        );
    }

    #[test]
    fn unnamed_files_are_used_from_the_kernel_that_gives_them_the_umask() {
        for (release, applies) in [
            ("6.18.44-fc-v1272", true),
            ("6.0.0", true),
            ("10.1", true),
            ("5.19.17-generic", false),
            ("4.19.0-26-amd64", false),
            ("", false),
            ("x", false),
        ] {
            let found = umask_applies_to_unnamed_files(release.as_bytes());
            assert_eq!(found, applies, "{release}");
        }
    }

    #[test]
    fn both_ways_of_naming_an_unnamed_file_work_here_or_fail_as_expected() {
        use rustix::fs::{AtFlags, CWD, Mode, OFlags};
        let dir = tempfile::tempdir().unwrap();
        let unnamed = || {
            let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
            let fd = rustix::fs::open(dir.path(), flags, Mode::from_raw_mode(0o644)).unwrap();
            let mut file = std::fs::File::from(fd);
            file.write_all(b"x").unwrap();
            file
        };
        // The descriptor's own route needs `CAP_DAC_READ_SEARCH` (`ENOENT` without it).
        let by_descriptor = dir.path().join("by-descriptor");
        match rustix::fs::linkat(unnamed(), "", CWD, &by_descriptor, AtFlags::EMPTY_PATH) {
            Ok(()) => assert_eq!(std::fs::read(&by_descriptor).unwrap(), b"x"),
            Err(error) => assert_eq!(error, rustix::io::Errno::NOENT),
        }
        // The `/proc` route works for anyone who can see `/proc`.
        let file = unnamed();
        use std::os::fd::AsRawFd;
        let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
        let by_proc = dir.path().join("by-proc");
        rustix::fs::linkat(CWD, &proc, CWD, &by_proc, AtFlags::SYMLINK_FOLLOW).unwrap();
        assert_eq!(std::fs::read(&by_proc).unwrap(), b"x");
        // Whichever route `link` learned, a taken name is `EEXIST`.
        assert_eq!(link(&unnamed(), &by_proc), Err(rustix::io::Errno::EXIST));
    }
}
