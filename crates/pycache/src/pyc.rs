//! Reading a pyc file whole: its header, what its magic means, its payload, and the source it
//! belongs to.
//!
//! This is what `pycache inspect` shows. Nothing here needs the interpreter that wrote the
//! file: the layout and the validation rules come from the magic table, so a pyc from a Python
//! that is not installed can still be described.

use crate::cache_path::{CacheScheme, PYCACHE};
use crate::freshness::{CheckHashBasedPycs, ImportRules};
use crate::header::{HeaderError, HeaderLayout, PycHeader};
use crate::magic::{Implementation, KnownMagic};
use crate::source_hash::SourceHashAlgorithm;
use crate::version::PythonVersion;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why a file could not be read as a pyc.
#[derive(Debug, thiserror::Error)]
pub enum PycError {
    /// The file could not be read.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The bytes are not a pyc.
    #[error("{path}: not a pyc file: {reason}", path = .path.display())]
    NotAPyc {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A pyc file, read.
#[derive(Debug, Clone)]
pub struct PycFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its header.
    pub header: PycHeader,
    /// What the magic table says about its magic.
    pub known: Option<KnownMagic>,
    /// Bytes after the header (the marshalled code object).
    pub payload_len: u64,
    /// The first byte of the payload: a code object is `c` (0x63), or 0xe3 with FLAG_REF.
    pub payload_type: Option<u8>,
}

impl PycFile {
    /// Reads and decodes `path`.
    ///
    /// # Errors
    ///
    /// [`PycError::Io`] when it cannot be read, [`PycError::NotAPyc`] when its first bytes are
    /// not a pyc header.
    pub fn read(path: &Path) -> Result<Self, PycError> {
        Self::read_whole(path).map(|(pyc, _)| pyc)
    }

    /// Reads `path` whole (never blocking on a FIFO or device) and decodes its header; returns
    /// the pyc and all its bytes.
    ///
    /// # Errors
    /// As [`PycFile::read`].
    pub fn read_whole(path: &Path) -> Result<(Self, Vec<u8>), PycError> {
        let io = |source| PycError::Io {
            path: path.to_owned(),
            source,
        };
        let mut data = Vec::new();
        let mut file = crate::regular_file::open(path).map_err(io)?;
        std::io::Read::read_to_end(&mut file, &mut data).map_err(io)?;
        Ok((Self::from_bytes(path, &data)?, data))
    }

    /// Reads and decodes the header of `path` and the first byte of its payload: what
    /// `pycache inspect` shows, without reading the rest (a pyc may be gigabytes). Returns the
    /// bytes read too (the header, for freshness). A FIFO or device is refused, never waited on.
    ///
    /// # Errors
    ///
    /// As [`PycFile::read`].
    pub fn read_head(path: &Path) -> Result<(Self, Vec<u8>), PycError> {
        let io = |source| PycError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = crate::regular_file::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut head = [0u8; 17];
        let len = crate::regular_file::read_head(&mut file, &mut head).map_err(io)?;
        let mut pyc = Self::from_bytes(path, &head[..len])?;
        pyc.payload_len = size.saturating_sub(pyc.header.layout.len() as u64);
        Ok((pyc, head[..len].to_vec()))
    }

    /// Decodes pyc `data` read from `path`.
    ///
    /// # Errors
    ///
    /// [`PycError::NotAPyc`] when `data` is not a pyc.
    pub fn from_bytes(path: &Path, data: &[u8]) -> Result<Self, PycError> {
        let not_a_pyc = |reason: String| PycError::NotAPyc {
            path: path.to_owned(),
            reason,
        };
        if data.len() < 4 {
            return Err(not_a_pyc(format!(
                "{} bytes, too short for a magic number",
                data.len()
            )));
        }
        if &data[2..4] != b"\r\n" {
            return Err(not_a_pyc(format!(
                "its first bytes {:02x}{:02x}{:02x}{:02x} are not a magic number (no \\r\\n)",
                data[0], data[1], data[2], data[3]
            )));
        }
        let header = PycHeader::parse_any(data).map_err(|error| match error {
            HeaderError::TooShort { len, needed } => {
                not_a_pyc(format!("{len} bytes, too short for a {needed}-byte header"))
            }
            HeaderError::InvalidFlags(flags) => not_a_pyc(format!("invalid flags {flags:#x}")),
        })?;
        let payload = &data[header.layout.len()..];
        Ok(PycFile {
            path: path.to_owned(),
            known: header.magic.known_release(),
            header,
            payload_len: payload.len() as u64,
            payload_type: payload.first().copied(),
        })
    }

    /// The source this pyc is the cache of: `source_from_cache` for a `__pycache__` name, the
    /// name without its `c` for a legacy `foo.pyc`; `None` when the name fits neither.
    pub fn source_path(&self) -> Option<PathBuf> {
        let bytes = self.path.as_os_str().as_bytes();
        let in_pycache = self
            .path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|dir| dir == PYCACHE);
        if in_pycache {
            // source_from_cache never checks the tag, so any scheme with a tag will do.
            return CacheScheme::new(Some("any"), PythonVersion::new(3, 99))
                .source_from_cache(self.path.as_os_str())
                .ok()
                .map(PathBuf::from);
        }
        bytes
            .strip_suffix(b"c")
            .filter(|b| b.ends_with(b".py"))
            .map(|b| PathBuf::from(OsStr::from_bytes(b)))
    }

    /// The rules the interpreter that wrote this pyc applies on import, from its magic.
    pub fn import_rules(&self, check: CheckHashBasedPycs) -> Option<ImportRules> {
        let known = self.known?;
        let layout = HeaderLayout::for_version(known.version);
        let hash_algorithm = match known.implementation {
            Implementation::CPython => SourceHashAlgorithm::for_cpython(known.version),
            Implementation::PyPy => Some(SourceHashAlgorithm::SipHash24),
        };
        Some(ImportRules {
            magic: self.header.magic,
            layout,
            hash_algorithm,
            unmasked_mtime: !known.version.at_least(3, 7),
            check_hash_based_pycs: check,
        })
    }
}
