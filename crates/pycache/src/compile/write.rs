//! Writing pycs the way `py_compile` does, and never leaving half a file.
//!
//! `py_compile` refuses to write through a symlink or over anything that is not a regular file
//! (import would silently replace it), creates the directory with `os.makedirs`, and writes with
//! `_write_atomic`: a temporary file `<cfile>.<number>` in the same directory, opened with
//! `O_EXCL` and the source's mode (`| 0o200`, `& 0o666`, then the umask), then renamed over the
//! target. A failure removes the temporary file. The same is done here, so a reader sees either
//! the old pyc or the complete new one. The temporary file is held under an advisory lock
//! (`flock`) while it is written, so that `pycache clean` running meanwhile leaves it alone.

use super::Failure;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
/// atomically with `mode`, in one `writev`. The directory is made only when the temporary
/// file cannot be created for want of it (most already exist: this spares a `mkdir` and a
/// `stat` per pyc); the errors are `py_compile`'s either way.
pub(crate) fn write_pyc(cfile: &Path, parts: &[&[u8]], mode: u32) -> Result<(), Failure> {
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

/// Writes `parts` in order with one `writev` (no copy into one buffer first); what a short
/// write left is written after.
fn write_parts(file: &mut std::fs::File, parts: &[&[u8]]) -> std::io::Result<()> {
    let slices: Vec<std::io::IoSlice<'_>> =
        parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
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
    let temporary = temporary_name(cfile);
    std::fs::hard_link(previous, &temporary)
        .and_then(|()| std::fs::rename(&temporary, cfile))
        .map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            Failure::io(cfile, error)
        })
}
