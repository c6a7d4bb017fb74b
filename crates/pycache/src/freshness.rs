//! Would import use this pyc? Decided in Rust, without starting Python.
//!
//! This is `SourceLoader.get_code` and `_classify_pyc`, `_validate_timestamp_pyc` and
//! `_validate_hash_pyc` from `importlib._bootstrap_external`: magic, length, flags, then either
//! mtime and size or the source hash, with `--check-hash-based-pycs` deciding whether a hash is
//! looked at at all. CPython 3.6 compares the mtime without masking it to 32 bits, so a source
//! with a negative or post-2106 mtime never validates there; that is kept. The marshalled body
//! is not examined: import does not examine it either before trusting the pyc.

use crate::header::{HeaderError, HeaderLayout, Invalidation, PycHeader, mask_u32};
use crate::magic::Magic;
use crate::source_hash::{SourceHashAlgorithm, source_hash};
use crate::version::PythonVersion;
use std::fmt;
use std::io;

/// `--check-hash-based-pycs` (`_imp.check_hash_based_pycs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckHashBasedPycs {
    /// Checked pycs are verified, unchecked ones trusted.
    #[default]
    Default,
    /// Every hash-based pyc is verified.
    Always,
    /// No hash-based pyc is verified.
    Never,
}

/// The facts of a source file that timestamp validation compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceStat {
    /// Python's `int(st.st_mtime)` (see [`crate::header::python_mtime`]).
    pub mtime: i64,
    /// `st_size`.
    pub size: u64,
}

impl SourceStat {
    /// The stat facts of `metadata`, as Python's `os.stat` would give them.
    #[cfg(unix)]
    pub fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        SourceStat {
            mtime: crate::header::python_mtime(metadata.mtime(), metadata.mtime_nsec()),
            size: metadata.size(),
        }
    }
}

/// What an interpreter's import checks, learnt from the interpreter (see
/// [`crate::Interpreter::import_rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportRules {
    /// `importlib.util.MAGIC_NUMBER`.
    pub magic: Magic,
    /// The header layout the interpreter reads.
    pub layout: HeaderLayout,
    /// The source hash algorithm, `None` where hash-based pycs do not exist (before 3.7).
    pub hash_algorithm: Option<SourceHashAlgorithm>,
    /// True for 3.6 and older, whose import compares the mtime without masking it.
    pub unmasked_mtime: bool,
    /// `--check-hash-based-pycs`.
    pub check_hash_based_pycs: CheckHashBasedPycs,
}

impl ImportRules {
    /// The rules of CPython `version` whose magic is `magic`.
    pub fn for_cpython(version: PythonVersion, magic: Magic) -> Self {
        ImportRules {
            magic,
            layout: HeaderLayout::for_version(version),
            hash_algorithm: SourceHashAlgorithm::for_cpython(version),
            unmasked_mtime: !version.at_least(3, 7),
            check_hash_based_pycs: CheckHashBasedPycs::Default,
        }
    }

    /// The same rules with another `--check-hash-based-pycs` mode.
    pub fn with_check_hash_based_pycs(mut self, mode: CheckHashBasedPycs) -> Self {
        self.check_hash_based_pycs = mode;
        self
    }
}

/// Why import would not use a pyc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleReason {
    /// No pyc at that path.
    Missing,
    /// The pyc could not be read (not a missing file: permissions, a directory, ...).
    Unreadable(String),
    /// Shorter than the interpreter's header.
    ShortHeader {
        /// Bytes in the file.
        len: usize,
    },
    /// Written by another interpreter or version.
    Magic {
        /// The pyc's magic.
        found: Magic,
        /// The interpreter's magic.
        expected: Magic,
    },
    /// PEP 552 flags with unknown bits.
    InvalidFlags(u32),
    /// Timestamp pyc whose mtime is not the source's.
    Mtime {
        /// Recorded in the pyc.
        pyc: u32,
        /// The source's `int(st_mtime)`.
        source: i64,
    },
    /// Timestamp pyc whose size is not the source's.
    Size {
        /// Recorded in the pyc.
        pyc: u32,
        /// The source's size.
        source: u64,
    },
    /// Hash-based pyc whose hash is not the source's.
    Hash {
        /// Recorded in the pyc.
        pyc: [u8; 8],
        /// The source's hash.
        source: [u8; 8],
    },
    /// A hash-based pyc that must be verified, but the source could not be read.
    SourceUnreadable(String),
    /// A hash-based pyc for an interpreter that has no hash-based pycs.
    HashUnsupported,
    /// The header says fresh, but the payload is not a whole marshalled code object (cut
    /// short, garbled): import would fail on it.
    Corrupt,
}

impl StaleReason {
    /// A short keyword for reports and JSON: `missing`, `mtime`, `size`, `hash`, `magic`, ...
    pub fn keyword(&self) -> &'static str {
        match self {
            StaleReason::Missing => "missing",
            StaleReason::Unreadable(_) => "unreadable",
            StaleReason::ShortHeader { .. } => "short-header",
            StaleReason::Magic { .. } => "magic",
            StaleReason::InvalidFlags(_) => "flags",
            StaleReason::Mtime { .. } => "mtime",
            StaleReason::Size { .. } => "size",
            StaleReason::Hash { .. } => "hash",
            StaleReason::SourceUnreadable(_) => "source-unreadable",
            StaleReason::HashUnsupported => "hash-unsupported",
            StaleReason::Corrupt => "corrupt",
        }
    }
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleReason::Missing => f.write_str("no pyc"),
            StaleReason::Corrupt => {
                f.write_str("the payload is not a whole marshalled code object (import would fail)")
            }
            StaleReason::Unreadable(why) => write!(f, "pyc cannot be read: {why}"),
            StaleReason::ShortHeader { len } => {
                write!(f, "pyc too short for a header ({len} bytes)")
            }
            StaleReason::Magic { found, expected } => {
                write!(f, "magic {found} is not the interpreter's {expected}")
            }
            StaleReason::InvalidFlags(flags) => write!(f, "invalid flags {flags:#x}"),
            StaleReason::Mtime { pyc, source } => {
                write!(f, "mtime {pyc} in pyc, source has {source}")
            }
            StaleReason::Size { pyc, source } => {
                write!(f, "size {pyc} in pyc, source has {source}")
            }
            StaleReason::Hash { pyc, source } => {
                write!(
                    f,
                    "hash {} in pyc, source hashes to {}",
                    hex::encode(pyc),
                    hex::encode(source)
                )
            }
            StaleReason::SourceUnreadable(why) => write!(f, "source cannot be read: {why}"),
            StaleReason::HashUnsupported => {
                f.write_str("hash-based pyc, but the interpreter predates PEP 552")
            }
        }
    }
}

/// How a pyc import would use was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreshBy {
    /// mtime and size match.
    Timestamp,
    /// The source hash matches.
    CheckedHash,
    /// A hash-based pyc that import trusts without reading the source.
    Unverified,
}

/// Import's verdict on a pyc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Import would use the pyc.
    Fresh(FreshBy),
    /// Import would compile the source again.
    Stale(StaleReason),
}

impl Freshness {
    /// True for [`Freshness::Fresh`].
    pub fn is_fresh(&self) -> bool {
        matches!(self, Freshness::Fresh(_))
    }
}

/// What import decides for pyc bytes `data` of a source with `stat`; `read_source` is called
/// only when a source hash must be verified.
pub fn classify_pyc(
    rules: &ImportRules,
    data: &[u8],
    stat: SourceStat,
    read_source: impl FnOnce() -> io::Result<Vec<u8>>,
) -> Freshness {
    if data.len() >= 4 && data[..4] != rules.magic.0 {
        return Freshness::Stale(StaleReason::Magic {
            found: Magic([data[0], data[1], data[2], data[3]]),
            expected: rules.magic,
        });
    }
    let header = match PycHeader::parse(data, rules.layout) {
        Ok(header) => header,
        Err(HeaderError::TooShort { len, .. }) => {
            return Freshness::Stale(StaleReason::ShortHeader { len });
        }
        Err(HeaderError::InvalidFlags(flags)) => {
            return Freshness::Stale(StaleReason::InvalidFlags(flags));
        }
    };
    match header.invalidation {
        Invalidation::Timestamp { mtime, size } => {
            let mtime_matches = if rules.unmasked_mtime {
                i64::from(mtime) == stat.mtime
            } else {
                mtime == mask_u32(stat.mtime)
            };
            if !mtime_matches {
                return Freshness::Stale(StaleReason::Mtime {
                    pyc: mtime,
                    source: stat.mtime,
                });
            }
            if let Some(size) = size
                && size != stat.size as u32
            {
                return Freshness::Stale(StaleReason::Size {
                    pyc: size,
                    source: stat.size,
                });
            }
            Freshness::Fresh(FreshBy::Timestamp)
        }
        Invalidation::Hash { checked, hash } => {
            let verify = match rules.check_hash_based_pycs {
                CheckHashBasedPycs::Never => false,
                CheckHashBasedPycs::Always => true,
                CheckHashBasedPycs::Default => checked,
            };
            if !verify {
                return Freshness::Fresh(FreshBy::Unverified);
            }
            let Some(algorithm) = rules.hash_algorithm else {
                return Freshness::Stale(StaleReason::HashUnsupported);
            };
            let source = match read_source() {
                Ok(source) => source,
                Err(error) => {
                    return Freshness::Stale(StaleReason::SourceUnreadable(error.to_string()));
                }
            };
            let expected = source_hash(algorithm, rules.magic, &source);
            if expected == hash {
                Freshness::Fresh(FreshBy::CheckedHash)
            } else {
                Freshness::Stale(StaleReason::Hash {
                    pyc: hash,
                    source: expected,
                })
            }
        }
    }
}

/// Reads the pyc at `pyc_path` and classifies it like [`classify_pyc`]; a missing file is
/// [`StaleReason::Missing`]. Only the header is read.
pub fn classify_pyc_file(
    rules: &ImportRules,
    pyc_path: &std::path::Path,
    stat: SourceStat,
    read_source: impl FnOnce() -> io::Result<Vec<u8>>,
) -> Freshness {
    classify_head(rules, &PycHead::read_path(pyc_path), stat, read_source)
}

/// How many bytes of a pyc are read before deciding: the longest header.
pub(crate) const HEAD_LEN: usize = 16;

/// What was read of a pyc before deciding on it: its first [`HEAD_LEN`] bytes, or why not.
///
/// This is the one reader of a pyc's header, for the walk (relative to its directory) and for
/// every other caller (by path). It opens without blocking, so a FIFO or a device named like a
/// pyc never holds anyone up, and refuses anything that is not a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PycHead {
    /// Its first bytes (up to [`HEAD_LEN`]).
    Read {
        /// The bytes; only `len` of them are the file's.
        bytes: [u8; HEAD_LEN],
        /// How many were read.
        len: u8,
    },
    /// Opening or reading failed with this `errno`.
    Failed(i32),
    /// Not a regular file (a FIFO, a device, a directory): never read. The text says which.
    NotRegular(Box<str>),
    /// Its directory does not exist, so nothing can be there, not even a dangling symlink
    /// (which reads as `ENOENT` too): known without a system call. Read, it is `ENOENT`.
    Absent,
}

impl PycHead {
    /// Reads the head of the file `open` opens (non-blocking, a regular file only: see
    /// `crate::regular_file`).
    pub(crate) fn read(open: impl FnOnce() -> io::Result<std::fs::File>) -> Self {
        let mut bytes = [0u8; HEAD_LEN];
        let read =
            open().and_then(|mut file| crate::regular_file::read_head(&mut file, &mut bytes));
        match read {
            Ok(len) => PycHead::Read {
                bytes,
                len: len as u8,
            },
            Err(error) => match error.raw_os_error() {
                Some(errno) => PycHead::Failed(errno),
                None => PycHead::NotRegular(error.to_string().into()),
            },
        }
    }

    /// True when nothing at all can be at the pyc's path (see [`PycHead::Absent`]).
    pub(crate) fn is_absent(&self) -> bool {
        matches!(self, PycHead::Absent)
    }

    /// Reads the head of the pyc at `path`.
    pub(crate) fn read_path(path: &std::path::Path) -> Self {
        PycHead::read(|| crate::regular_file::open(path))
    }

    /// The bytes read, or the error as `std::io` reports it.
    pub(crate) fn bytes(&self) -> Result<&[u8], io::Error> {
        match self {
            PycHead::Read { bytes, len } => Ok(&bytes[..usize::from(*len)]),
            PycHead::Failed(errno) => Err(io::Error::from_raw_os_error(*errno)),
            PycHead::Absent => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            PycHead::NotRegular(text) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                text.to_string(),
            )),
        }
    }

    /// The first `len` bytes read (a header's length), as a read of `len` bytes would give.
    pub(crate) fn header(&self, len: usize) -> Result<&[u8], io::Error> {
        self.bytes().map(|bytes| &bytes[..bytes.len().min(len)])
    }
}

/// A pyc that cannot exist where it is expected: no such file, its `__pycache__` is a file, or
/// its path is longer than the system allows. It is missing, not stale.
fn cannot_exist(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound
        || matches!(
            error.raw_os_error(),
            Some(libc::ENOTDIR | libc::ENAMETOOLONG)
        )
}

/// Import's verdict from what was read of a pyc: [`classify_pyc`] on its header, or
/// [`StaleReason::Missing`] / [`StaleReason::Unreadable`] when it could not be read.
pub(crate) fn classify_head(
    rules: &ImportRules,
    head: &PycHead,
    stat: SourceStat,
    read_source: impl FnOnce() -> io::Result<Vec<u8>>,
) -> Freshness {
    match head.header(rules.layout.len()) {
        Ok(bytes) => classify_pyc(rules, bytes, stat, read_source),
        Err(error) if cannot_exist(&error) => Freshness::Stale(StaleReason::Missing),
        Err(error) => Freshness::Stale(StaleReason::Unreadable(error.to_string())),
    }
}

/// The one freshness decision of `compile`, `check` and `clean`: import's verdict on the pyc at
/// `pyc` from `head` (what the walk read of it, or `None` to read it now), and with
/// `verify_payload`, a fresh pyc whose payload does not parse is [`StaleReason::Corrupt`].
pub(crate) fn judge(
    rules: &ImportRules,
    pyc: &std::path::Path,
    head: Option<&PycHead>,
    stat: SourceStat,
    read_source: impl FnOnce() -> io::Result<Vec<u8>>,
    verify_payload: bool,
) -> Freshness {
    let verdict = match head {
        Some(head) => classify_head(rules, head, stat, read_source),
        None => classify_pyc_file(rules, pyc, stat, read_source),
    };
    if verify_payload {
        crate::payload::verified(verdict, rules, pyc)
    } else {
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::HeaderLayout;

    fn rules() -> ImportRules {
        ImportRules::for_cpython(PythonVersion::new(3, 12), Magic([0xcb, 0x0d, 0x0d, 0x0a]))
    }

    const STAT: SourceStat = SourceStat { mtime: 7, size: 3 };

    #[test]
    fn one_reader_for_every_kind_of_file_and_one_verdict_from_it() {
        let tmp = tempfile::tempdir().unwrap();
        let pyc = tmp.path().join("m.pyc");
        let header = PycHeader::timestamp(rules().magic, HeaderLayout::Pep552, 7, 3).to_bytes();
        std::fs::write(&pyc, &header).unwrap();
        let fresh = PycHead::read_path(&pyc);
        assert_eq!(fresh.bytes().unwrap(), &header[..]);
        assert!(judge(&rules(), &pyc, Some(&fresh), STAT, || unreachable!(), false).is_fresh());
        assert_eq!(
            classify_pyc_file(&rules(), &pyc, STAT, || unreachable!()),
            Freshness::Fresh(FreshBy::Timestamp)
        );

        // A FIFO is refused at once (a blocking open would wait for a writer for ever).
        let fifo = tmp.path().join("f.pyc");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let head = PycHead::read_path(&fifo);
        assert!(matches!(head, PycHead::NotRegular(_)), "{head:?}");
        match judge(&rules(), &fifo, None, STAT, || unreachable!(), false) {
            Freshness::Stale(StaleReason::Unreadable(why)) => {
                assert!(why.contains("FIFO"), "{why}")
            }
            other => panic!("{other:?}"),
        }

        // No such file, or a file where its directory should be: missing, not unreadable.
        for missing in [tmp.path().join("gone.pyc"), pyc.join("x.pyc")] {
            assert_eq!(
                judge(&rules(), &missing, None, STAT, || unreachable!(), false),
                Freshness::Stale(StaleReason::Missing)
            );
        }
    }
}
