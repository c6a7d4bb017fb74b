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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
                    hex(pyc),
                    hex(source)
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
    let mut header = [0u8; 16];
    let read = crate::regular_file::open(pyc_path).and_then(|mut file| {
        crate::regular_file::read_head(&mut file, &mut header[..rules.layout.len()])
    });
    match read {
        Ok(filled) => classify_pyc(rules, &header[..filled], stat, read_source),
        // Its `__pycache__` is a file, or the path is too long: no such pyc can exist.
        Err(error)
            if error.kind() == io::ErrorKind::NotFound
                || matches!(
                    error.raw_os_error(),
                    Some(libc::ENOTDIR | libc::ENAMETOOLONG)
                ) =>
        {
            Freshness::Stale(StaleReason::Missing)
        }
        Err(error) => Freshness::Stale(StaleReason::Unreadable(error.to_string())),
    }
}
