//! Reading a marshal stream into [`Object`]s: CPython's `r_object` (`Python/marshal.c`), bounded.
//!
//! Hostile bytes get a [`MarshalError`] naming the offset, never a panic: nesting is limited to
//! [`MAX_DEPTH`], and no count is believed beyond the bytes left, so nothing allocates more than
//! a small multiple of the input.

use super::cursor::{Cursor, never_joins_refs};
use super::object::{Code, CodeLayout, Field, Long, Object, Str, StrKind, Value};
use super::{FLAG_REF, Format, MarshalError};

/// How deeply objects may nest. CPython's `MAX_MARSHAL_STACK_DEPTH` is 2000; reading,
/// writing and canonicalizing recurse, and 500 levels fit a 2 MiB thread stack even in an
/// unoptimized build. Real code nests far less (a code object in a function in a class is
/// about six levels).
pub const MAX_DEPTH: usize = 500;

/// Reads one object from `data[start..]`, which must hold nothing after it.
pub(super) fn read_all(data: &[u8], start: usize, format: Format) -> Result<Object, MarshalError> {
    let mut reader = Reader {
        cursor: Cursor::new(data, start),
        format,
        refs: Vec::new(),
    };
    let object = reader.object()?;
    if reader.cursor.pos != data.len() {
        return Err(MarshalError::TrailingBytes {
            offset: reader.cursor.pos,
        });
    }
    Ok(object)
}

struct Reader<'a> {
    cursor: Cursor<'a>,
    format: Format,
    /// One entry per FLAG_REF object so far: true once it has been read whole (a reference to
    /// an object from inside itself is refused, as CPython refuses it for tuples and code).
    refs: Vec<bool>,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MarshalError> {
        self.cursor.take(n)
    }

    fn byte(&mut self) -> Result<u8, MarshalError> {
        self.cursor.byte()
    }

    fn u32(&mut self) -> Result<u32, MarshalError> {
        self.cursor.u32()
    }

    fn u64(&mut self) -> Result<u64, MarshalError> {
        let mut out = [0; 8];
        out.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(out))
    }

    fn count(&mut self, len: u32, unit: usize) -> Result<usize, MarshalError> {
        self.cursor.count(len, unit)
    }

    fn object(&mut self) -> Result<Object, MarshalError> {
        let offset = self.cursor.pos;
        self.cursor.check_depth(offset)?;
        let byte = self.byte()?;
        let (flag_ref, code) = (byte & FLAG_REF != 0, byte & !FLAG_REF);
        // Singletons and references never enter the reference list, flagged or not.
        let slot = (flag_ref && !never_joins_refs(code)).then(|| {
            self.refs.push(false);
            self.refs.len() - 1
        });
        self.cursor.depth += 1;
        let value = self.value(code, offset);
        self.cursor.depth -= 1;
        if let Some(slot) = slot {
            self.refs[slot] = true;
        }
        Ok(Object {
            flag_ref,
            value: value?,
        })
    }

    /// Containers apart from scalars, to keep the frames of the recursion small.
    fn value(&mut self, code: u8, offset: usize) -> Result<Value, MarshalError> {
        match code {
            b')' => {
                let len = u32::from(self.byte()?);
                let items = self.items(len)?;
                Ok(Value::Tuple { small: true, items })
            }
            b'(' => {
                let items = self.sized_items()?;
                Ok(Value::Tuple {
                    small: false,
                    items,
                })
            }
            b'[' => self.sized_items().map(Value::List),
            b'<' => self.sized_items().map(Value::Set),
            b'>' => self.sized_items().map(Value::FrozenSet),
            b'{' => self.dict().map(Value::Dict),
            b'c' => self.code().map(|code| Value::Code(Box::new(code))),
            b':' if self.format.version >= 5 => self.slice(),
            _ => self.scalar(code, offset),
        }
    }

    fn slice(&mut self) -> Result<Value, MarshalError> {
        let parts = [self.object()?, self.object()?, self.object()?];
        Ok(Value::Slice(Box::new(parts)))
    }

    fn scalar(&mut self, code: u8, offset: usize) -> Result<Value, MarshalError> {
        Ok(match code {
            b'0' => Value::Null,
            b'N' => Value::None,
            b'F' => Value::False,
            b'T' => Value::True,
            b'S' => Value::StopIteration,
            b'.' => Value::Ellipsis,
            b'i' => Value::Int(self.u32()? as i32),
            b'l' => Value::Long(self.long()?),
            b'g' => Value::Float(self.u64()?),
            b'y' => Value::Complex(self.u64()?, self.u64()?),
            b's' => {
                let len = self.u32()?;
                let len = self.count(len, 1)?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            b'z' | b'Z' | b'a' | b'A' | b'u' | b't' => Value::Str(self.string(code)?),
            b'r' => Value::Ref(self.reference(offset)?),
            _ => return Err(MarshalError::UnknownType { offset, code }),
        })
    }

    fn long(&mut self) -> Result<Long, MarshalError> {
        let count = self.u32()? as i32;
        let n = self.count(count.unsigned_abs(), 2)?;
        let digits = self
            .take(2 * n)?
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        Ok(Long { count, digits })
    }

    fn string(&mut self, code: u8) -> Result<Str, MarshalError> {
        let kind = StrKind::from_code(code).unwrap_or(StrKind::Unicode);
        let len = if kind.is_short() {
            u32::from(self.byte()?)
        } else {
            self.u32()?
        };
        let len = self.count(len, 1)?;
        Ok(Str {
            kind,
            data: self.take(len)?.to_vec(),
        })
    }

    fn sized_items(&mut self) -> Result<Vec<Object>, MarshalError> {
        let len = self.u32()?;
        self.items(len)
    }

    fn items(&mut self, len: u32) -> Result<Vec<Object>, MarshalError> {
        let len = self.count(len, 1)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.object()?);
        }
        Ok(items)
    }

    fn dict(&mut self) -> Result<Vec<(Object, Object)>, MarshalError> {
        let mut pairs = Vec::new();
        loop {
            let key = self.object()?;
            if key.value == Value::Null {
                return Ok(pairs);
            }
            let value = self.object()?;
            pairs.push((key, value));
        }
    }

    fn code(&mut self) -> Result<Code, MarshalError> {
        let layout: CodeLayout = self.format.code;
        let mut fields = Vec::with_capacity(layout.fields().len());
        for name in layout.fields() {
            fields.push(if name.is_int() {
                Field::Int(self.u32()? as i32)
            } else {
                Field::Object(self.object()?)
            });
        }
        Ok(Code { layout, fields })
    }

    fn reference(&mut self, offset: usize) -> Result<u32, MarshalError> {
        let index = self.u32()?;
        match self.refs.get(index as usize) {
            Some(true) => Ok(index),
            Some(false) => Err(MarshalError::RefInsideItself { offset, index }),
            None => Err(MarshalError::BadRef {
                offset,
                index,
                count: self.refs.len(),
            }),
        }
    }
}
