//! Opening a file that must be a regular file: a pyc, a source.
//!
//! `open(2)` on a FIFO waits for a writer and on some devices for the device; a pyc or a
//! source named by a FIFO would hang the reader for ever. Every reader of a pyc or a source
//! opens it here: non-blocking (which changes nothing for a regular file), then `fstat` on the
//! descriptor, and anything but a regular file is refused with [`not_regular`]'s error.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` for reading without blocking, and checks that it is a regular file.
///
/// # Errors
///
/// The open's error, or [`io::ErrorKind::InvalidInput`] naming what the file is.
pub(crate) fn open(path: &Path) -> io::Result<File> {
    open_stated(path).map(|(file, _)| file)
}

/// As [`open`], with the `fstat` it made.
///
/// # Errors
///
/// As [`open`].
pub(crate) fn open_stated(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let metadata = check(&file)?;
    Ok((file, metadata))
}

/// Fails unless `file` is a regular file; its `fstat` otherwise.
pub(crate) fn check(file: &File) -> io::Result<std::fs::Metadata> {
    let metadata = file.metadata()?;
    if metadata.is_file() {
        Ok(metadata)
    } else {
        Err(not_regular(&metadata.file_type()))
    }
}

/// The error for a file that is not a regular one.
pub(crate) fn not_regular(kind: &std::fs::FileType) -> io::Error {
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    )
}

/// Reads the first `out.len()` bytes of `file` (fewer at its end); returns how many.
pub(crate) fn read_head(file: &mut File, out: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < out.len() {
        match file.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The whole of `file`, whose size was `len` when it was stated, into `bytes` (emptied first;
/// a buffer used again spares the allocation and the page faults of a new one, and nothing is
/// zero-filled before it is read into): read into room for that size (plus one byte, to see
/// the end), without the `fstat` and `lseek` that `read_to_end` makes to size its buffer. A
/// file found longer than stated is read to its end. A read that stops exactly at the stated
/// size, short of the spare byte, is the end: no second `read` is spent to hear it say 0 (one
/// system call per source; a file growing at that very moment is the race `py_compile` has
/// between its stat and its read).
pub(crate) fn read_sized_into(mut file: &File, len: u64, bytes: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    bytes.clear();
    bytes.reserve(len.saturating_add(1));
    loop {
        if bytes.len() > len {
            file.read_to_end(bytes)?;
            return Ok(());
        }
        match rustix::io::read(file, rustix::buffer::spare_capacity(bytes)) {
            Ok(0) => return Ok(()),
            Ok(_) if bytes.len() == len => return Ok(()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sized_into_reads_the_whole_file_whatever_size_was_stated_and_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        for stated in [0, 1, 99_999, 100_000, 100_001, 1_000_000] {
            for mut buffer in [Vec::new(), b"left from before".to_vec()] {
                let file = File::open(&path).unwrap();
                read_sized_into(&file, stated, &mut buffer).unwrap();
                assert_eq!(buffer, data, "stated {stated}");
            }
        }
    }
}
