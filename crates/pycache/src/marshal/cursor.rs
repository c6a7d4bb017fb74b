//! The bounded reading of marshal bytes that every pass shares: CPython's `r_byte`, `r_long`,
//! `r_string` and the length checks of `r_object`, each refusing what the bytes left cannot
//! hold, with the offset in the error.
//!
//! The passes that never build an [`Object`](super::Object) (the canonical writer, the filename
//! splicer) walk the stream with a cursor and must refuse exactly what [`read`](super::read())
//! refuses, at the same offset: [`Cursor::skip_scalar`] is the one description of how far each
//! scalar reaches.

use super::MarshalError;
use super::read::MAX_DEPTH;

/// A position in marshal bytes and the nesting depth reached.
#[derive(Debug)]
pub(super) struct Cursor<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) depth: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8], start: usize) -> Self {
        Self {
            data,
            pos: start,
            depth: 0,
        }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], MarshalError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n {
            return Err(MarshalError::Truncated {
                offset: self.pos,
                needed: n - rest.len(),
            });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    pub(super) fn byte(&mut self) -> Result<u8, MarshalError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, MarshalError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A count of items (or bytes) that must each take at least `unit` bytes of what is left.
    pub(super) fn count(&mut self, len: u32, unit: usize) -> Result<usize, MarshalError> {
        let len = len as usize;
        let remaining = self.data.len() - self.pos;
        if len.saturating_mul(unit) > remaining {
            return Err(MarshalError::BadLength {
                offset: self.pos,
                len,
                remaining,
            });
        }
        Ok(len)
    }

    /// Refuses an object at `offset` nested deeper than [`MAX_DEPTH`].
    pub(super) fn check_depth(&self, offset: usize) -> Result<(), MarshalError> {
        if self.depth >= MAX_DEPTH {
            return Err(MarshalError::TooDeep {
                offset,
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    /// Moves past the body of the scalar whose type byte (without FLAG_REF) is `code`, read at
    /// `offset`: an int, long, float, complex, bytes or str. Any other code is unknown.
    pub(super) fn skip_scalar(&mut self, code: u8, offset: usize) -> Result<(), MarshalError> {
        let len = match code {
            b'i' => 4,
            b'g' => 8,
            b'y' => {
                // Two reads, as the reader does: a truncation names the second part's offset.
                self.take(8)?;
                8
            }
            b'l' => {
                let count = self.u32()? as i32;
                2 * self.count(count.unsigned_abs(), 2)?
            }
            b's' | b'a' | b'A' | b'u' | b't' => {
                let len = self.u32()?;
                self.count(len, 1)?
            }
            b'z' | b'Z' => {
                let len = u32::from(self.byte()?);
                self.count(len, 1)?
            }
            _ => return Err(MarshalError::UnknownType { offset, code }),
        };
        self.take(len)?;
        Ok(())
    }
}

/// True for the type codes that never join the reference list, flagged or not: the singletons
/// and references (CPython's `r_object` ignores FLAG_REF on them).
pub(super) fn never_joins_refs(code: u8) -> bool {
    matches!(code, b'0' | b'N' | b'F' | b'T' | b'S' | b'.' | b'r')
}
