//! Whether a pyc's payload is one whole marshalled code object: a structural check.
//!
//! Import loads the payload with `marshal.loads` and refuses anything but a code object; a
//! payload cut short (`EOFError: marshal data too short`) or garbled (`ValueError: bad marshal
//! data`) fails the import although the header says fresh. This walks the marshal stream as
//! `marshal.c`'s `r_object` does (type bytes, lengths, references, the code object's fields
//! for the writer's version) without building any object, and says whether it ends where it
//! should. It stands in for the full marshal reader: [`payload_parses`] is the one function to
//! switch to it.

use crate::freshness::{Freshness, ImportRules, StaleReason};
use crate::version::PythonVersion;
use std::path::Path;

/// marshal.c's `MAX_MARSHAL_STACK_DEPTH`.
const MAX_DEPTH: usize = 2000;

/// True when `payload` (the bytes after the header) holds a whole marshalled code object as
/// the Python `version` that wrote it lays code objects out.
pub fn payload_parses(payload: &[u8], version: PythonVersion) -> bool {
    let mut reader = Reader {
        data: payload,
        refs: 0,
        version,
    };
    matches!(payload.first(), Some(&t) if t & 0x7f == b'c') && reader.object(0).is_some()
}

/// Import's verdict once the payload is read too: a pyc whose header says fresh but whose
/// payload does not parse is [`StaleReason::Corrupt`]. Other verdicts are returned as they are;
/// so is a fresh one for a magic the table does not know (no layout to check it by).
pub(crate) fn verified(verdict: Freshness, rules: &ImportRules, pyc: &Path) -> Freshness {
    use std::io::Read;
    let Freshness::Fresh(_) = verdict else {
        return verdict;
    };
    let Some(known) = rules.magic.known_release() else {
        return verdict;
    };
    let mut data = Vec::new();
    let read = crate::regular_file::open(pyc).and_then(|mut file| file.read_to_end(&mut data));
    if let Err(error) = read {
        return Freshness::Stale(StaleReason::Unreadable(error.to_string()));
    }
    let header = rules.layout.len();
    if data.len() >= header && payload_parses(&data[header..], known.version) {
        verdict
    } else {
        Freshness::Stale(StaleReason::Corrupt)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    /// References registered so far (objects flagged FLAG_REF).
    refs: u32,
    version: PythonVersion,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A non-negative length or count (marshal refuses negative ones).
    fn size(&mut self) -> Option<usize> {
        usize::try_from(self.i32()?).ok()
    }

    fn objects(&mut self, n: usize, depth: usize) -> Option<()> {
        (0..n).try_for_each(|_| self.object(depth))
    }

    /// Skips one object; `None` when the stream ends early or is not marshal data.
    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let code = self.byte()?;
        if code & 0x80 != 0 {
            self.refs += 1;
        }
        let depth = depth + 1;
        match code & 0x7f {
            b'0' | b'N' | b'F' | b'T' | b'S' | b'.' => Some(()),
            b'i' => self.take(4).map(drop),
            b'I' => self.take(8).map(drop),
            b'g' => self.take(8).map(drop),
            b'y' => self.take(16).map(drop),
            b'f' => {
                let n = usize::from(self.byte()?);
                self.take(n).map(drop)
            }
            b'x' => {
                for _ in 0..2 {
                    let n = usize::from(self.byte()?);
                    self.take(n)?;
                }
                Some(())
            }
            b'l' => {
                let digits = self.i32()?.unsigned_abs() as usize;
                self.take(digits.checked_mul(2)?).map(drop)
            }
            b's' | b't' | b'u' | b'a' | b'A' => {
                let n = self.size()?;
                self.take(n).map(drop)
            }
            b'z' | b'Z' => {
                let n = usize::from(self.byte()?);
                self.take(n).map(drop)
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.size()?;
                self.objects(n, depth)
            }
            b')' => {
                let n = usize::from(self.byte()?);
                self.objects(n, depth)
            }
            b'{' => loop {
                if self.data.first() == Some(&b'0') {
                    self.take(1)?;
                    return Some(());
                }
                self.object(depth)?;
                self.object(depth)?;
            },
            b'r' => {
                let index = u32::try_from(self.i32()?).ok()?;
                (index < self.refs).then_some(())
            }
            b'c' => self.code(depth),
            _ => None,
        }
    }

    /// A code object's fields, in the order of the writer's version (see the marshal notes).
    fn code(&mut self, depth: usize) -> Option<()> {
        let v = self.version;
        let (ints, before_lineno, after_lineno) = if v.at_least(3, 11) {
            (5, 8, 2)
        } else if v.at_least(3, 8) {
            (6, 8, 1)
        } else {
            (5, 8, 1)
        };
        self.take(4 * ints)?;
        self.objects(before_lineno, depth)?;
        self.take(4)?; // firstlineno
        self.objects(after_lineno, depth)
    }
}

#[cfg(test)]
mod tests;
