//! pyc headers: the bytes before the marshalled code.
//!
//! Three layouts exist, one per era, and a reader must know which one it holds before it can say
//! anything: 8 bytes (magic, mtime) up to 3.2, 12 bytes (magic, mtime, size) for 3.3 to 3.6, and
//! PEP 552's 16 bytes (magic, flags, then mtime and size or an 8-byte source hash) from 3.7 on.
//! Every integer is a little-endian `u32`. Writing follows `_code_to_timestamp_pyc` and
//! `_code_to_hash_pyc`; reading follows `_classify_pyc`, which accepts flags 0 to 3 and rejects
//! any higher bit.

use crate::magic::Magic;
use crate::version::PythonVersion;
use std::fmt;

/// The shape of a pyc header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderLayout {
    /// Magic and mtime (Python 2 and 3.0 to 3.2): 8 bytes.
    MagicMtime,
    /// Magic, mtime and source size (3.3 to 3.6): 12 bytes.
    MagicMtimeSize,
    /// PEP 552 (3.7 and later): magic, flags, then mtime and size or a source hash: 16 bytes.
    Pep552,
}

impl HeaderLayout {
    /// The layout a Python language version writes.
    pub fn for_version(version: PythonVersion) -> Self {
        if version.at_least(3, 7) {
            HeaderLayout::Pep552
        } else if version.at_least(3, 3) {
            HeaderLayout::MagicMtimeSize
        } else {
            HeaderLayout::MagicMtime
        }
    }

    /// The header's length in bytes.
    pub const fn len(self) -> usize {
        match self {
            HeaderLayout::MagicMtime => 8,
            HeaderLayout::MagicMtimeSize => 12,
            HeaderLayout::Pep552 => 16,
        }
    }

    /// Never true: every layout has bytes. Here for clippy's `len_without_is_empty`.
    pub const fn is_empty(self) -> bool {
        false
    }
}

/// How a pyc says it should be validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// Timestamp-based: the source's mtime and (from 3.3) size, both masked to 32 bits.
    Timestamp {
        /// `int(st_mtime) & 0xFFFFFFFF` of the source when the pyc was written.
        mtime: u32,
        /// `st_size & 0xFFFFFFFF` of the source; absent in the 8-byte layout.
        size: Option<u32>,
    },
    /// Hash-based (PEP 552): the SipHash of the source bytes.
    Hash {
        /// "checked" (flags 3): import verifies the hash by default; "unchecked" (flags 1) it
        /// does not.
        checked: bool,
        /// The 8 hash bytes.
        hash: [u8; 8],
    },
}

/// A decoded pyc header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PycHeader {
    /// The magic bytes.
    pub magic: Magic,
    /// The layout the header was read or will be written in.
    pub layout: HeaderLayout,
    /// The raw PEP 552 flags word (0 for older layouts). Flags 2 has bit 0 clear and is read
    /// as a timestamp pyc, as CPython does.
    pub flags: u32,
    /// What the header says about validation.
    pub invalidation: Invalidation,
}

/// Why bytes could not be read as a pyc header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than the layout needs (CPython: `EOFError`, "bad pyc").
    #[error("pyc is too short: {len} bytes, a header needs {needed}")]
    TooShort {
        /// Bytes available.
        len: usize,
        /// Bytes the layout needs.
        needed: usize,
    },
    /// Flags with a bit above bit 1 set (CPython: `ImportError: invalid flags N`).
    #[error("invalid flags {0:#x} in pyc header")]
    InvalidFlags(u32),
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

impl PycHeader {
    /// A timestamp header, as `py_compile` and import write it.
    pub fn timestamp(magic: Magic, layout: HeaderLayout, mtime: u32, size: u32) -> Self {
        PycHeader {
            magic,
            layout,
            flags: 0,
            invalidation: Invalidation::Timestamp {
                mtime,
                size: (layout != HeaderLayout::MagicMtime).then_some(size),
            },
        }
    }

    /// A PEP 552 hash-based header (flags 3 when `checked`, else 1).
    pub fn hash_based(magic: Magic, checked: bool, hash: [u8; 8]) -> Self {
        PycHeader {
            magic,
            layout: HeaderLayout::Pep552,
            flags: if checked { 3 } else { 1 },
            invalidation: Invalidation::Hash { checked, hash },
        }
    }

    /// Reads a header of `layout` from the start of `data`.
    ///
    /// # Errors
    ///
    /// [`HeaderError::TooShort`] when `data` is shorter than the layout,
    /// [`HeaderError::InvalidFlags`] when PEP 552 flags have a bit above bit 1 set.
    pub fn parse(data: &[u8], layout: HeaderLayout) -> Result<Self, HeaderError> {
        let needed = layout.len();
        if data.len() < needed {
            return Err(HeaderError::TooShort {
                len: data.len(),
                needed,
            });
        }
        let magic = Magic([data[0], data[1], data[2], data[3]]);
        let (flags, invalidation) = match layout {
            HeaderLayout::MagicMtime => (
                0,
                Invalidation::Timestamp {
                    mtime: u32_at(data, 4),
                    size: None,
                },
            ),
            HeaderLayout::MagicMtimeSize => (
                0,
                Invalidation::Timestamp {
                    mtime: u32_at(data, 4),
                    size: Some(u32_at(data, 8)),
                },
            ),
            HeaderLayout::Pep552 => {
                let flags = u32_at(data, 4);
                if flags & !0b11 != 0 {
                    return Err(HeaderError::InvalidFlags(flags));
                }
                let invalidation = if flags & 1 != 0 {
                    let mut hash = [0; 8];
                    hash.copy_from_slice(&data[8..16]);
                    Invalidation::Hash {
                        checked: flags & 2 != 0,
                        hash,
                    }
                } else {
                    Invalidation::Timestamp {
                        mtime: u32_at(data, 8),
                        size: Some(u32_at(data, 12)),
                    }
                };
                (flags, invalidation)
            }
        };
        Ok(PycHeader {
            magic,
            layout,
            flags,
            invalidation,
        })
    }

    /// Reads a header whose layout is guessed from its magic (the layout of the release line
    /// the magic table names; PEP 552 for unknown magics).
    ///
    /// # Errors
    ///
    /// As [`PycHeader::parse`]; fewer than 4 bytes is [`HeaderError::TooShort`].
    pub fn parse_any(data: &[u8]) -> Result<Self, HeaderError> {
        if data.len() < 4 {
            return Err(HeaderError::TooShort {
                len: data.len(),
                needed: 4,
            });
        }
        let magic = Magic([data[0], data[1], data[2], data[3]]);
        let layout = magic.known_release().map_or(HeaderLayout::Pep552, |known| {
            HeaderLayout::for_version(known.version)
        });
        Self::parse(data, layout)
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.layout.len());
        out.extend_from_slice(&self.magic.0);
        if self.layout == HeaderLayout::Pep552 {
            out.extend_from_slice(&self.flags.to_le_bytes());
        }
        match self.invalidation {
            Invalidation::Timestamp { mtime, size } => {
                out.extend_from_slice(&mtime.to_le_bytes());
                if self.layout != HeaderLayout::MagicMtime {
                    out.extend_from_slice(&size.unwrap_or(0).to_le_bytes());
                }
            }
            Invalidation::Hash { hash, .. } => out.extend_from_slice(&hash),
        }
        out
    }
}

/// Which invalidation mode to write (`py_compile.PycInvalidationMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvalidationMode {
    /// mtime and size of the source.
    Timestamp,
    /// Source hash, verified by import.
    CheckedHash,
    /// Source hash, trusted by import.
    UncheckedHash,
}

impl InvalidationMode {
    /// py_compile's default: `CheckedHash` when `SOURCE_DATE_EPOCH` is set and non-empty,
    /// else `Timestamp` (the value is never parsed).
    pub fn default_from_env() -> Self {
        match std::env::var_os("SOURCE_DATE_EPOCH") {
            Some(value) if !value.is_empty() => InvalidationMode::CheckedHash,
            _ => InvalidationMode::Timestamp,
        }
    }

    /// The name compileall's `--invalidation-mode` uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvalidationMode::Timestamp => "timestamp",
            InvalidationMode::CheckedHash => "checked-hash",
            InvalidationMode::UncheckedHash => "unchecked-hash",
        }
    }
}

impl fmt::Display for InvalidationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Python's `int(st.st_mtime)` from a stat's seconds and nanoseconds: CPython builds the float
/// `sec + nsec * 1e-9` and `int()` truncates it toward zero, so sub-second rounding of large
/// values carries into the seconds exactly as it does in Python.
pub fn python_mtime(seconds: i64, nanoseconds: i64) -> i64 {
    let float = seconds as f64 + nanoseconds as f64 * 1e-9;
    float.trunc() as i64
}

/// A 32-bit header field from a Python int: `int(x) & 0xFFFFFFFF`.
pub const fn mask_u32(value: i64) -> u32 {
    value as u32
}

#[cfg(test)]
mod tests;
