//! The code inside a pyc: CPython's `marshal` format (`Python/marshal.c`, version 4 as written by
//! CPython 3.6 to 3.13, version 5's `TYPE_SLICE` for 3.14) and PyPy 3's, read and written without
//! the interpreter.
//!
//! - [`read`](read()) and [`write`](write()): the stream as [`Object`]s that keep every choice the writer made
//!   (FLAG_REF, string type codes, reference indices, each version's code-object fields), so
//!   that `write(&read(bytes)?) == bytes`.
//! - [`canonical`]: the form that depends only on the values, byte for byte what Fedora's
//!   `add-det --handler=pyc` writes (see [`canonical`](self::canonical()) for why it is needed).
//! - [`rewrite_filename`]: every `co_filename` re-pointed, as the interpreter would write it.
//!
//! [`canonical`] and [`rewrite_filename`] run on every pyc `compile --reproducible` writes and
//! on every cache hit, so they never build the tree: each walks the bytes once (the `canonical`
//! and `filename` modules). Their first implementations over the tree stay, doc-hidden, as
//! [`tree_reference`]: the statement of what they must give, which the tests compare them with.
//!
//! It must never panic or allocate without bound on hostile bytes: errors name the offset.
//!
//! ```
//! use pycache::marshal::{self, CodeLayout, Format};
//!
//! let format = Format { code: CodeLayout::V311, version: 4 };
//! // A tuple of a flagged string and a reference to it.
//! let bytes = b")\x02\xfa\x01xr\x00\x00\x00\x00";
//! let object = marshal::read(bytes, format).unwrap();
//! assert_eq!(marshal::write(&object), bytes);
//! ```

mod canonical;
mod cursor;
mod filename;
mod object;
mod read;
mod tree;
mod write;

pub use filename::{FilenameSpots, Splice};
pub use object::{Code, CodeLayout, Field, FieldName, Long, Object, Str, StrKind, Value};
pub use read::MAX_DEPTH;

use crate::header::HeaderLayout;
use crate::magic::{Implementation, Magic};
use crate::version::PythonVersion;

/// Bit 7 of a type byte: the object joins the reference list.
pub const FLAG_REF: u8 = 0x80;

/// What a stream was written by: its code-object layout and marshal version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    /// The fields of code objects.
    pub code: CodeLayout,
    /// The marshal version (4; 5 from CPython 3.14, which adds `TYPE_SLICE`).
    pub version: u8,
}

impl Format {
    /// The format `implementation` at `version` writes, if this module knows it.
    pub fn for_python(implementation: Implementation, version: PythonVersion) -> Option<Self> {
        let (major, minor) = (version.major, version.minor);
        if major != 3 {
            return None;
        }
        let code = match (implementation, minor) {
            (_, 0..=7) => CodeLayout::V30,
            (_, 8..=10) => CodeLayout::V38,
            (Implementation::CPython, _) => CodeLayout::V311,
            // PyPy 3.11 keeps its own code objects; not seen here yet.
            (Implementation::PyPy, _) => return None,
        };
        let version = if implementation == Implementation::CPython && minor >= 14 {
            5
        } else {
            4
        };
        Some(Self { code, version })
    }

    /// The format of a pyc whose magic is `magic`, and the length of its header.
    ///
    /// # Errors
    ///
    /// [`MarshalError::UnknownMagic`] for a magic that is not in the table or whose format this
    /// module does not know (Python 2, PyPy 3.11).
    pub fn for_magic(magic: Magic) -> Result<(Self, usize), MarshalError> {
        let known = magic
            .known_release()
            .ok_or(MarshalError::UnknownMagic { magic })?;
        let format = Self::for_python(known.implementation, known.version)
            .ok_or(MarshalError::UnknownMagic { magic })?;
        Ok((format, HeaderLayout::for_version(known.version).len()))
    }
}

/// Why marshal bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    /// The bytes end inside an object.
    #[error("marshal data truncated at offset {offset} ({needed} more bytes needed)")]
    Truncated {
        /// Where the missing bytes were expected.
        offset: usize,
        /// How many are missing.
        needed: usize,
    },
    /// A type byte this format does not have.
    #[error("unknown marshal type code 0x{code:02x} at offset {offset}")]
    UnknownType {
        /// The type byte's offset.
        offset: usize,
        /// The type byte without FLAG_REF.
        code: u8,
    },
    /// A length larger than the bytes that follow could hold.
    #[error("length {len} at offset {offset} exceeds the {remaining} bytes left")]
    BadLength {
        /// The offset just after the length.
        offset: usize,
        /// The length read.
        len: usize,
        /// The bytes left.
        remaining: usize,
    },
    /// A reference to an index not yet in the reference list.
    #[error("reference at offset {offset} to object {index}, but only {count} precede it")]
    BadRef {
        /// The `r` byte's offset.
        offset: usize,
        /// The index read.
        index: u32,
        /// How many flagged objects came before.
        count: usize,
    },
    /// A reference to an object from inside itself.
    #[error("reference at offset {offset} to object {index}, which contains it")]
    RefInsideItself {
        /// The `r` byte's offset.
        offset: usize,
        /// The index read.
        index: u32,
    },
    /// Objects nested deeper than [`MAX_DEPTH`].
    #[error("objects nested deeper than {limit} at offset {offset}")]
    TooDeep {
        /// The offset of the object too deep.
        offset: usize,
        /// [`MAX_DEPTH`].
        limit: usize,
    },
    /// Bytes after the one object a pyc holds.
    #[error("unexpected bytes after the code object, from offset {offset}")]
    TrailingBytes {
        /// Where they start.
        offset: usize,
    },
    /// A pyc whose magic says nothing this module can read.
    #[error("pyc magic {magic} is not one whose marshal format is known")]
    UnknownMagic {
        /// The magic.
        magic: Magic,
    },
}

/// Reads `bytes`, which must hold exactly one object written in `format`.
///
/// # Errors
///
/// A [`MarshalError`] naming the offset where the bytes stop making sense.
pub fn read(bytes: &[u8], format: Format) -> Result<Object, MarshalError> {
    read::read_all(bytes, 0, format)
}

/// The bytes of `object`, exactly as [`read`] found them.
///
/// A `Tuple { small: true, .. }` must hold fewer than 256 items.
pub fn write(object: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    write::write_object(object, &mut out);
    out
}

/// The canonical form of `bytes`: every object equal to one written before it becomes a
/// reference to that one, FLAG_REF only on objects a reference uses, references numbered in
/// stream order. Byte for byte what `add-det --handler=pyc` writes.
///
/// marshal flags an object when its reference count is above one at the moment it is written,
/// and shares an object it has written before only when it is the same object in memory: both
/// follow the writing process's history, so the same source can give different pycs. The
/// canonical form follows only the values.
///
/// # Errors
///
/// As [`read`].
pub fn canonical(bytes: &[u8], format: Format) -> Result<Vec<u8>, MarshalError> {
    canonical::canonical_from(bytes, 0, format)
}

/// `bytes` with every code object's `co_filename` replaced by `new_path` (a path as bytes, as
/// `os.fsdecode` would turn it into a `str`), encoded as the interpreter encodes that string.
///
/// # Errors
///
/// As [`read`].
pub fn rewrite_filename(
    bytes: &[u8],
    format: Format,
    new_path: &[u8],
) -> Result<Vec<u8>, MarshalError> {
    filename::repoint_from(bytes, 0, format, new_path)
}

/// The first implementations of [`canonical`] and [`rewrite_filename`], over an [`Object`]
/// tree: slower, and kept only as the reference the streaming ones are tested and benchmarked
/// against (`examples/marshal_cpu.rs`). Same signatures, same results.
#[doc(hidden)]
pub mod tree_reference {
    use super::{Format, MarshalError, read, tree, write};

    /// As [`canonical`](super::canonical()), over a tree.
    ///
    /// # Errors
    ///
    /// As [`read`].
    pub fn canonical(bytes: &[u8], format: Format) -> Result<Vec<u8>, MarshalError> {
        Ok(tree::write_canonical(&read(bytes, format)?))
    }

    /// As [`rewrite_filename`](super::rewrite_filename()), over a tree.
    ///
    /// # Errors
    ///
    /// As [`read`].
    pub fn rewrite_filename(
        bytes: &[u8],
        format: Format,
        new_path: &[u8],
    ) -> Result<Vec<u8>, MarshalError> {
        let mut object = read(bytes, format)?;
        tree::repoint(&mut object, new_path);
        Ok(write(&object))
    }
}

/// Every object of `root` that joins the reference list, by reference index: what each
/// [`Value::Ref`] under `root` names.
pub fn references(root: &Object) -> Vec<&Object> {
    fn walk<'a>(object: &'a Object, out: &mut Vec<&'a Object>) {
        if object.joins_refs() {
            out.push(object);
        }
        object.for_each_child(|child| walk(child, out));
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// A pyc split into its header and its code: the marshal format follows from the magic.
#[derive(Debug, Clone, Copy)]
pub struct Pyc<'a> {
    data: &'a [u8],
    header_len: usize,
    format: Format,
}

impl<'a> Pyc<'a> {
    /// Splits the pyc `data`.
    ///
    /// # Errors
    ///
    /// [`MarshalError::Truncated`] when `data` is shorter than a header,
    /// [`MarshalError::UnknownMagic`] as in [`Format::for_magic`].
    pub fn split(data: &'a [u8]) -> Result<Self, MarshalError> {
        let truncated = |needed: usize| MarshalError::Truncated {
            offset: data.len(),
            needed: needed - data.len(),
        };
        let magic = data.get(..4).ok_or_else(|| truncated(4))?;
        let (format, header_len) =
            Format::for_magic(Magic([magic[0], magic[1], magic[2], magic[3]]))?;
        if data.len() < header_len {
            return Err(truncated(header_len));
        }
        Ok(Self {
            data,
            header_len,
            format,
        })
    }

    /// The header bytes.
    pub fn header(&self) -> &'a [u8] {
        &self.data[..self.header_len]
    }

    /// The marshalled code.
    pub fn payload(&self) -> &'a [u8] {
        &self.data[self.header_len..]
    }

    /// How the code is written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The code object, read; error offsets count from the start of the file.
    ///
    /// # Errors
    ///
    /// As [`read`].
    pub fn code(&self) -> Result<Object, MarshalError> {
        read::read_all(self.data, self.header_len, self.format)
    }

    /// The whole pyc with its payload in [`canonical`] form (the header unchanged).
    ///
    /// # Errors
    ///
    /// As [`read`], offsets counting from the start of the file.
    pub fn canonical(&self) -> Result<Vec<u8>, MarshalError> {
        canonical::canonical_from(self.data, self.header_len, self.format)
    }

    /// True when the pyc's payload is already in [`canonical`] form.
    ///
    /// # Errors
    ///
    /// As [`read`], offsets counting from the start of the file.
    pub fn is_canonical(&self) -> Result<bool, MarshalError> {
        Ok(self.canonical()? == self.data)
    }

    /// The whole pyc with every `co_filename` re-pointed to `new_path`.
    ///
    /// # Errors
    ///
    /// As [`read`], offsets counting from the start of the file.
    pub fn rewrite_filename(&self, new_path: &[u8]) -> Result<Vec<u8>, MarshalError> {
        filename::repoint_from(self.data, self.header_len, self.format, new_path)
    }
}

#[cfg(test)]
mod test;
