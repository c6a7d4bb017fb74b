//! Writing [`Object`]s back as bytes: CPython's `w_object` for what [`read`](super::read) kept,
//! so that a stream read and written again is the same bytes.

use super::FLAG_REF;
use super::object::{Field, Object, Value};

/// Appends `object` to `out`, exactly as it was read.
pub(super) fn write_object(object: &Object, out: &mut Vec<u8>) {
    let flag = if object.flag_ref { FLAG_REF } else { 0 };
    match &object.value {
        Value::Null => out.push(b'0' | flag),
        Value::None => out.push(b'N' | flag),
        Value::False => out.push(b'F' | flag),
        Value::True => out.push(b'T' | flag),
        Value::StopIteration => out.push(b'S' | flag),
        Value::Ellipsis => out.push(b'.' | flag),
        Value::Int(value) => {
            out.push(b'i' | flag);
            out.extend_from_slice(&value.to_le_bytes());
        }
        Value::Long(long) => {
            out.push(b'l' | flag);
            out.extend_from_slice(&long.count.to_le_bytes());
            for digit in &long.digits {
                out.extend_from_slice(&digit.to_le_bytes());
            }
        }
        Value::Float(bits) => {
            out.push(b'g' | flag);
            out.extend_from_slice(&bits.to_le_bytes());
        }
        Value::Complex(real, imag) => {
            out.push(b'y' | flag);
            out.extend_from_slice(&real.to_le_bytes());
            out.extend_from_slice(&imag.to_le_bytes());
        }
        Value::Bytes(data) => {
            out.push(b's' | flag);
            write_len(data.len(), out);
            out.extend_from_slice(data);
        }
        Value::Str(s) => {
            out.push(s.kind.code() | flag);
            if s.kind.is_short() {
                out.push(s.data.len() as u8);
            } else {
                write_len(s.data.len(), out);
            }
            out.extend_from_slice(&s.data);
        }
        Value::Tuple { small, items } => {
            if *small {
                out.push(b')' | flag);
                out.push(items.len() as u8);
            } else {
                out.push(b'(' | flag);
                write_len(items.len(), out);
            }
            write_items(items, out);
        }
        Value::List(items) => write_sized(b'[' | flag, items, out),
        Value::Set(items) => write_sized(b'<' | flag, items, out),
        Value::FrozenSet(items) => write_sized(b'>' | flag, items, out),
        Value::Dict(pairs) => {
            out.push(b'{' | flag);
            for (key, value) in pairs {
                write_object(key, out);
                write_object(value, out);
            }
            out.push(b'0');
        }
        Value::Code(code) => {
            out.push(b'c' | flag);
            for field in &code.fields {
                match field {
                    Field::Int(value) => out.extend_from_slice(&value.to_le_bytes()),
                    Field::Object(object) => write_object(object, out),
                }
            }
        }
        Value::Slice(parts) => {
            out.push(b':' | flag);
            write_items(parts.as_slice(), out);
        }
        Value::Ref(index) => {
            out.push(b'r' | flag);
            out.extend_from_slice(&index.to_le_bytes());
        }
    }
}

fn write_sized(code: u8, items: &[Object], out: &mut Vec<u8>) {
    out.push(code);
    write_len(items.len(), out);
    write_items(items, out);
}

fn write_items(items: &[Object], out: &mut Vec<u8>) {
    for item in items {
        write_object(item, out);
    }
}

/// A length as marshal's u32 (a stream read by this module never holds a longer one).
fn write_len(len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(len as u32).to_le_bytes());
}
