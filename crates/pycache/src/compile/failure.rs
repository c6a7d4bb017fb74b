//! Why one file could not be compiled or written: [`Failure`], rendered as compileall prints it.
//!
//! compileall prints a failing file as `*** Error compiling 'path'...` followed by a text that
//! depends on what went wrong: `py_compile.PyCompileError`'s message when the interpreter rejected
//! the source, Python's rendering of an `OSError` when a write failed. Each failure keeps what it
//! is (the path, the `io::Error`, the interpreter) and renders that text in one place, its
//! [`Display`](std::fmt::Display). It never decides what to do about a failure: the engine
//! remembers rejections ([`Failure::rejected_by_interpreter`]) and reports the rest.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why a file could not be compiled or written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Failure {
    /// The interpreter rejected the source (a `SyntaxError` and the like): the text as
    /// `py_compile` formats it (the report's `warnings` repeat what it printed).
    Rejected {
        /// `py_compile.PyCompileError`'s message.
        message: String,
        /// What the interpreter printed while compiling (warnings before the error).
        warnings: String,
    },
    /// A system call failed on `path` (writing a pyc, reading a source).
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What the system said.
        error: Arc<std::io::Error>,
    },
    /// `py_compile` refuses to replace a symlink or a non-regular file with a pyc.
    NotRegularFile {
        /// The pyc path.
        path: PathBuf,
        /// True for a symlink, false for anything else that is not a regular file.
        symlink: bool,
    },
    /// The source is larger than the worker protocol carries (checked before reading it).
    SourceTooLarge {
        /// The source.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The largest size pycache compiles.
        limit: u64,
    },
    /// The source grew past the limit while it was read.
    SourceGrew {
        /// The source.
        path: PathBuf,
    },
    /// No pyc path exists for the source (`cache_from_source` raised): the error as Python
    /// names it.
    NoPycPath {
        /// `ValueError: ...` and the like.
        message: String,
    },
    /// No worker could be started for the interpreter.
    CannotStart {
        /// The interpreter's display name.
        interpreter: String,
        /// Why.
        reason: String,
    },
    /// A worker runs another Python than the interpreter's cached probe says (a wrapper script
    /// that now runs another interpreter); the probe was dropped. The run probes again and
    /// goes on; this is reported only when that fails.
    ProbeOutOfDate {
        /// The interpreter's display name.
        interpreter: String,
        /// The magic number the worker reports.
        found: String,
        /// The magic number the probe said.
        expected: String,
    },
    /// The worker compiling the file died, or sent what cannot be read.
    WorkerLost {
        /// The interpreter's display name.
        interpreter: String,
        /// What happened to the worker.
        reason: String,
    },
    /// The worker took longer than the per-file timeout, and was killed.
    TimedOut {
        /// The interpreter's display name.
        interpreter: String,
        /// The timeout.
        after: Duration,
    },
    /// The code the interpreter sent is not marshal data pycache can put in canonical form.
    BadMarshal {
        /// The interpreter's display name.
        interpreter: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A fresh pyc could not be put in canonical form (`reproducible`).
    NotCanonicalized {
        /// The pyc.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The run was interrupted before the file was done (reported as
    /// [`Outcome::Interrupted`](super::Outcome::Interrupted), never as a failure).
    Interrupted,
    /// A bug: the job compiling the file panicked.
    Panicked {
        /// The panic's message.
        message: String,
    },
}

impl Failure {
    /// An I/O failure on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Failure::Io {
            path: path.into(),
            error: Arc::new(error),
        }
    }

    /// True when the interpreter itself rejected the source (a `SyntaxError` and the like), as
    /// opposed to an I/O error, a timeout or a dead worker: only such failures are remembered
    /// from one run to the next.
    pub fn rejected_by_interpreter(&self) -> bool {
        matches!(self, Failure::Rejected { .. })
    }
}

impl std::fmt::Display for Failure {
    /// The text compileall prints under `*** Error compiling ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::os::unix::ffi::OsStrExt;
        match self {
            Failure::Rejected { message, .. } | Failure::NoPycPath { message } => {
                f.write_str(message)
            }
            Failure::Io { path, error } => f.write_str(&super::write::python_os_error(error, path)),
            Failure::NotRegularFile { path, symlink } => {
                let shown = String::from_utf8_lossy(path.as_os_str().as_bytes());
                if *symlink {
                    write!(
                        f,
                        "FileExistsError: {shown} is a symlink and will be changed into a regular file if import writes a byte-compiled file to it"
                    )
                } else {
                    write!(
                        f,
                        "FileExistsError: {shown} is a non-regular file and will be changed into a regular one if import writes a byte-compiled file to it"
                    )
                }
            }
            Failure::SourceTooLarge { path, size, limit } => write!(
                f,
                "{}: the source is {size} bytes; pycache compiles sources of at most {limit} bytes",
                path.display()
            ),
            Failure::SourceGrew { path } => {
                write!(f, "{}: the source grew while read", path.display())
            }
            Failure::CannotStart {
                interpreter,
                reason,
            } => write!(f, "{interpreter}: {reason}"),
            Failure::ProbeOutOfDate {
                interpreter,
                found,
                expected,
            } => write!(
                f,
                "{interpreter}: the worker reports magic {found}, the probe said {expected}: the cached probe was out of date and is dropped; run again"
            ),
            Failure::WorkerLost {
                interpreter,
                reason,
            } => write!(f, "{interpreter} worker: {reason}"),
            Failure::TimedOut { interpreter, after } => {
                write!(f, "{interpreter} worker: timed out after {after:?}")
            }
            Failure::BadMarshal {
                interpreter,
                reason,
            } => write!(f, "{interpreter}: unreadable marshal data: {reason}"),
            Failure::NotCanonicalized { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
            Failure::Interrupted => f.write_str("interrupted"),
            Failure::Panicked { message } => write!(f, "internal error: {message}"),
        }
    }
}

impl PartialEq for Failure {
    /// Two failures are equal when they say the same thing (an `io::Error` has no equality of
    /// its own).
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Eq for Failure {}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Io { error, .. } => Some(&**error),
            _ => None,
        }
    }
}
