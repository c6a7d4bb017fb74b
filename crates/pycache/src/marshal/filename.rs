//! Re-pointing `co_filename`: the code compiled at one path, written as if compiled at another.
//!
//! The source path enters marshalled code only as each code object's `co_filename` (the `dfile`
//! of `py_compile`). CPython writes it once, flagged, and refers to it from every other code
//! object; PyPy writes it in full in each. Either way each written copy is replaced by the
//! string the interpreter would write for the new path: `os.fsdecode` of the path bytes, encoded
//! by `w_object` (`z`/`a` when ASCII, `u` otherwise, UTF-8 with `surrogatepass`), interned
//! (`Z`/`A`/`t`) when the copy it replaces was (CPython 3.13 interns filenames).
//!
//! One scan of the bytes (no [`Object`](super::Object) tree) finds the strings to replace: each
//! `co_filename` written in full, and each flagged string that a `co_filename` reference names
//! (found once all references are seen, since such a string may come before them). The output
//! is the input with those spans spliced: the number of flagged objects does not change, so
//! every reference stays right. The first implementation, over a tree, is in the `tree` module;
//! this one is tested against it.

use super::cursor::{Cursor, never_joins_refs};
use super::object::{FieldName, StrKind};
use super::{FLAG_REF, Format, MarshalError};
use crate::python_str::code_points;

/// `data[start..]` (one object, nothing after it) with every `co_filename` re-pointed to
/// `path`, after `data[..start]` copied as it is (a pyc's header).
pub(super) fn repoint_from(
    data: &[u8],
    start: usize,
    format: Format,
    path: &[u8],
) -> Result<Vec<u8>, MarshalError> {
    Ok(find_from(data, start, format)?.apply(data, path))
}

/// What a re-pointing of `data[start..]` changes, found by one scan.
fn find_from(data: &[u8], start: usize, format: Format) -> Result<FilenameSpots, MarshalError> {
    let mut scan = Scan {
        cursor: Cursor::new(data, start),
        format,
        refs: Vec::new(),
        edits: Vec::new(),
        filename_refs: Vec::new(),
    };
    scan.object()?;
    if scan.cursor.pos != data.len() {
        return Err(MarshalError::TrailingBytes {
            offset: scan.cursor.pos,
        });
    }
    let Scan {
        mut edits,
        refs,
        filename_refs,
        ..
    } = scan;
    edits.extend(
        (filename_refs.iter()).filter_map(|&index| refs[index as usize].string.map(Edit::Str)),
    );
    edits.sort_unstable_by_key(Edit::start);
    edits.dedup_by_key(|edit| edit.start());
    Ok(FilenameSpots(edits))
}

/// Where re-pointing changes a payload: each `co_filename` string written in full, and each
/// flagged NULL that ends a dict (written plainly). Found once by a scan
/// ([`FilenameSpots::find`]) and kept (the cache of compiled code keeps it beside each payload),
/// the same payload is re-pointed later by a splice alone ([`FilenameSpots::apply`]), with the
/// bytes [`rewrite_filename`](super::rewrite_filename()) gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilenameSpots(Vec<Edit>);

/// The size of one spot in [`FilenameSpots::to_bytes`]: a kind, a start and an end.
const SPOT: usize = 1 + 4 + 4;

impl FilenameSpots {
    /// The spots of `payload` (one marshalled object, nothing after it).
    ///
    /// # Errors
    ///
    /// As [`read`](super::read()).
    pub fn find(payload: &[u8], format: Format) -> Result<Self, MarshalError> {
        find_from(payload, 0, format)
    }

    /// `payload` (the one these spots were found in) with every `co_filename` re-pointed to
    /// `new_path`.
    pub fn apply(&self, payload: &[u8], new_path: &[u8]) -> Vec<u8> {
        self.splice(payload, new_path).to_vec(payload)
    }

    /// What [`FilenameSpots::apply`] gives, in pieces that leave `payload` where it is (a hit
    /// writes them one after another, without copying the payload).
    pub fn splice(&self, payload: &[u8], new_path: &[u8]) -> Splice {
        Splice::new(payload, &self.0, &encode_surrogatepass(new_path))
    }

    /// The spots as bytes: per spot, its kind (0: a dict's end, 1: a string, 2: an interned
    /// string), then its start and end offsets (u32, little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * SPOT);
        for edit in &self.0 {
            let (kind, start, end) = match *edit {
                Edit::DictEnd(start) => (0, start, start + 1),
                Edit::Str(span) => (1 + u8::from(span.interned), span.start, span.end),
            };
            out.push(kind);
            out.extend_from_slice(&(start as u32).to_le_bytes());
            out.extend_from_slice(&(end as u32).to_le_bytes());
        }
        out
    }

    /// The spots `bytes` ([`FilenameSpots::to_bytes`]) hold for `payload`, when they are spots
    /// `payload` can have: at least one (every code object has a filename), in order, apart,
    /// inside it, each a whole string of its kind (its length as the string says) or a flagged
    /// NULL. `None` otherwise (the caller then scans).
    pub fn from_bytes(bytes: &[u8], payload: &[u8]) -> Option<Self> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(SPOT) {
            return None;
        }
        let mut edits = Vec::with_capacity(bytes.len() / SPOT);
        let mut at = 0;
        for spot in bytes.chunks_exact(SPOT) {
            let offset = |i: usize| {
                u32::from_le_bytes(spot[i..i + 4].try_into().ok()?)
                    .try_into()
                    .ok()
            };
            let (start, end): (usize, usize) = (offset(1)?, offset(5)?);
            if start < at || end <= start || end > payload.len() {
                return None;
            }
            let edit = match spot[0] {
                0 if end == start + 1 && payload[start] == b'0' | FLAG_REF => Edit::DictEnd(start),
                kind @ (1 | 2) => {
                    let code = StrKind::from_code(payload[start] & !FLAG_REF)?;
                    if code.is_interned() != (kind == 2) || string_end(payload, start, code)? != end
                    {
                        return None;
                    }
                    Edit::Str(StrSpan {
                        start,
                        end,
                        interned: kind == 2,
                    })
                }
                _ => return None,
            };
            edits.push(edit);
            at = end;
        }
        Some(FilenameSpots(edits))
    }
}

/// Where the string of kind `kind` whose type byte is at `start` ends, as its length says (read
/// as every pass reads it, [`Cursor::skip_scalar`]).
fn string_end(payload: &[u8], start: usize, kind: StrKind) -> Option<usize> {
    let mut cursor = Cursor::new(payload, start + 1);
    cursor.skip_scalar(kind.code(), start).ok()?;
    Some(cursor.pos)
}

/// A string written in full: from its type byte to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StrSpan {
    start: usize,
    end: usize,
    interned: bool,
}

/// A change to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    /// A filename string, replaced by the new path.
    Str(StrSpan),
    /// A flagged NULL that ends a dict at this offset, written plainly (as the tree writer
    /// does: the flag is meaningless there and the reader drops it).
    DictEnd(usize),
}

impl Edit {
    fn start(&self) -> usize {
        match *self {
            Self::Str(span) => span.start,
            Self::DictEnd(start) => start,
        }
    }
}

/// What the scan found an object to be.
#[derive(Debug, Clone, Copy)]
enum Found {
    Str(StrSpan),
    Ref(u32),
    Null,
    Other,
}

/// One entry of the input's reference list.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Read whole (a reference from inside the object itself is refused).
    done: bool,
    /// The string it is, if it is one.
    string: Option<StrSpan>,
}

#[derive(Debug)]
struct Scan<'a> {
    cursor: Cursor<'a>,
    format: Format,
    refs: Vec<Slot>,
    edits: Vec<Edit>,
    /// The reference indices that `co_filename` fields name.
    filename_refs: Vec<u32>,
}

impl Scan<'_> {
    fn object(&mut self) -> Result<Found, MarshalError> {
        let offset = self.cursor.pos;
        self.cursor.check_depth(offset)?;
        let byte = self.cursor.byte()?;
        let (flagged, code) = (byte & FLAG_REF != 0, byte & !FLAG_REF);
        if code == b'r' {
            return self.reference(offset).map(Found::Ref);
        }
        if never_joins_refs(code) {
            return Ok(if code == b'0' {
                Found::Null
            } else {
                Found::Other
            });
        }
        let slot = flagged.then(|| {
            self.refs.push(Slot {
                done: false,
                string: None,
            });
            self.refs.len() - 1
        });
        self.cursor.depth += 1;
        let found = self.value(code, offset);
        self.cursor.depth -= 1;
        let found = found?;
        if let Some(slot) = slot {
            let string = match found {
                Found::Str(span) => Some(span),
                _ => None,
            };
            self.refs[slot] = Slot { done: true, string };
        }
        Ok(found)
    }

    fn reference(&mut self, offset: usize) -> Result<u32, MarshalError> {
        let index = self.cursor.u32()?;
        match self.refs.get(index as usize) {
            Some(slot) if slot.done => Ok(index),
            Some(_) => Err(MarshalError::RefInsideItself { offset, index }),
            None => Err(MarshalError::BadRef {
                offset,
                index,
                count: self.refs.len(),
            }),
        }
    }

    /// Moves past the object of type `code` (its type byte already read at `offset`).
    fn value(&mut self, code: u8, offset: usize) -> Result<Found, MarshalError> {
        match code {
            b')' => {
                let len = u32::from(self.cursor.byte()?);
                self.items(len)?;
            }
            b'(' | b'[' | b'<' | b'>' => {
                let len = self.cursor.u32()?;
                self.items(len)?;
            }
            b'{' => self.dict()?,
            b'c' => self.code()?,
            b':' if self.format.version >= 5 => {
                for _ in 0..3 {
                    self.object()?;
                }
            }
            _ => {
                self.cursor.skip_scalar(code, offset)?;
                return Ok(match StrKind::from_code(code) {
                    Some(kind) => Found::Str(StrSpan {
                        start: offset,
                        end: self.cursor.pos,
                        interned: kind.is_interned(),
                    }),
                    None => Found::Other,
                });
            }
        }
        Ok(Found::Other)
    }

    fn items(&mut self, len: u32) -> Result<(), MarshalError> {
        for _ in 0..self.cursor.count(len, 1)? {
            self.object()?;
        }
        Ok(())
    }

    fn dict(&mut self) -> Result<(), MarshalError> {
        loop {
            let offset = self.cursor.pos;
            if let Found::Null = self.object()? {
                if self.cursor.data[offset] & FLAG_REF != 0 {
                    self.edits.push(Edit::DictEnd(offset));
                }
                return Ok(());
            }
            self.object()?;
        }
    }

    fn code(&mut self) -> Result<(), MarshalError> {
        for &name in self.format.code.fields() {
            if name.is_int() {
                self.cursor.take(4)?;
                continue;
            }
            let found = self.object()?;
            if name == FieldName::Filename {
                match found {
                    Found::Str(span) => self.edits.push(Edit::Str(span)),
                    Found::Ref(index) => self.filename_refs.push(index),
                    Found::Null | Found::Other => {}
                }
            }
        }
        Ok(())
    }
}

/// A re-pointed payload as pieces: runs of the payload it was made from, between the bytes
/// that replace its spots. Written one after another they are the re-pointed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// What replaces each spot, one after another.
    inserted: Vec<u8>,
    pieces: Vec<Piece>,
}

/// A piece of a [`Splice`]: a range of the payload, or of what is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Payload(usize, usize),
    Inserted(usize, usize),
}

impl Splice {
    /// `data` with each of `edits` (sorted, apart) applied, filenames becoming `new`.
    fn new(data: &[u8], edits: &[Edit], new: &[u8]) -> Self {
        let mut inserted = Vec::with_capacity(edits.len() * (new.len() + 5));
        let mut pieces = Vec::with_capacity(edits.len() * 2 + 1);
        let mut at = 0;
        for edit in edits {
            if at < edit.start() {
                pieces.push(Piece::Payload(at, edit.start()));
            }
            let from = inserted.len();
            match *edit {
                Edit::DictEnd(start) => {
                    inserted.push(b'0');
                    at = start + 1;
                }
                Edit::Str(span) => {
                    let kind = StrKind::for_str(new, span.interned);
                    inserted.push(kind.code() | (data[span.start] & FLAG_REF));
                    if kind.is_short() {
                        inserted.push(new.len() as u8);
                    } else {
                        inserted.extend_from_slice(&(new.len() as u32).to_le_bytes());
                    }
                    inserted.extend_from_slice(new);
                    at = span.end;
                }
            }
            pieces.push(Piece::Inserted(from, inserted.len()));
        }
        if at < data.len() {
            pieces.push(Piece::Payload(at, data.len()));
        }
        Splice { inserted, pieces }
    }

    /// The pieces, in order (`payload`: the one this splice was made from).
    pub fn pieces<'a>(&'a self, payload: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.pieces.iter().map(move |&piece| match piece {
            Piece::Payload(start, end) => &payload[start..end],
            Piece::Inserted(start, end) => &self.inserted[start..end],
        })
    }

    /// How many pieces there are.
    pub fn piece_count(&self) -> usize {
        self.pieces.len()
    }

    /// The length of the re-pointed payload.
    pub fn len(&self) -> usize {
        (self.pieces.iter())
            .map(|&(Piece::Payload(start, end) | Piece::Inserted(start, end))| end - start)
            .sum()
    }

    /// Whether the re-pointed payload is empty (never, for marshalled code).
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The re-pointed payload, in one piece (`payload`: the one this splice was made from).
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.pieces(payload)
            .for_each(|piece| out.extend_from_slice(piece));
        out
    }
}

/// `path.decode('utf-8', 'surrogateescape').encode('utf-8', 'surrogatepass')`.
pub(crate) fn encode_surrogatepass(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for cp in code_points(path) {
        match char::from_u32(cp) {
            Some(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            // A lone surrogate, U+DC80 to U+DCFF: its three UTF-8 bytes.
            None => out.extend_from_slice(&[
                0xE0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]),
        }
    }
    out
}
