//! Re-pointing `co_filename`: the code compiled at one path, written as if compiled at another.
//!
//! The source path enters marshalled code only as each code object's `co_filename` (the `dfile`
//! of `py_compile`). CPython writes it once, flagged, and refers to it from every other code
//! object; PyPy writes it in full in each. Either way each written copy is replaced by the
//! string the interpreter would write for the new path: `os.fsdecode` of the path bytes, encoded
//! by `w_object` (`z`/`a` when ASCII, `u` otherwise, UTF-8 with `surrogatepass`), interned
//! (`Z`/`A`/`t`) when the copy it replaces was (CPython 3.13 interns filenames).

use super::object::{Field, FieldName, Object, StrKind, Value};
use crate::python_str::code_points;
use std::collections::HashSet;

/// Replaces every `co_filename` under `root` by `path`.
pub(super) fn repoint(root: &mut Object, path: &[u8]) {
    let data = encode_surrogatepass(path);
    let mut shared = HashSet::new();
    collect_shared(root, &mut shared);
    let mut next_ref = 0;
    replace(root, &data, &shared, &mut next_ref);
}

/// The reference indices that some `co_filename` field names.
fn collect_shared(object: &Object, shared: &mut HashSet<u32>) {
    if let Value::Code(code) = &object.value
        && let Some(Object {
            value: Value::Ref(index),
            ..
        }) = code.object(FieldName::Filename)
    {
        shared.insert(*index);
    }
    object.for_each_child(|child| collect_shared(child, shared));
}

/// Replaces, in stream order, the filename fields written in full and the flagged strings that
/// a filename field refers to (counting reference indices as the reader does).
fn replace(object: &mut Object, data: &[u8], shared: &HashSet<u32>, next_ref: &mut u32) {
    if object.joins_refs() {
        if shared.contains(next_ref) {
            set_str(object, data);
        }
        *next_ref += 1;
    }
    if let Value::Code(code) = &mut object.value
        && let Some(Field::Object(filename)) = code.field_mut(FieldName::Filename)
    {
        set_str(filename, data);
    }
    children_mut(object, |child| replace(child, data, shared, next_ref));
}

/// Replaces the string `object` holds (anything else is left alone: a stream whose filename is
/// not a string is not the interpreter's).
fn set_str(object: &mut Object, data: &[u8]) {
    if let Value::Str(s) = &mut object.value {
        s.kind = StrKind::for_str(data, s.kind.is_interned());
        s.data = data.to_vec();
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

/// As [`Object::for_each_child`], mutably.
fn children_mut(object: &mut Object, mut f: impl FnMut(&mut Object)) {
    match &mut object.value {
        Value::Tuple { items, .. }
        | Value::List(items)
        | Value::Set(items)
        | Value::FrozenSet(items) => {
            items.iter_mut().for_each(f);
        }
        Value::Dict(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            f(k);
            f(v);
        }),
        Value::Code(code) => code.fields.iter_mut().for_each(|field| {
            if let Field::Object(o) = field {
                f(o);
            }
        }),
        Value::Slice(parts) => parts.iter_mut().for_each(f),
        _ => {}
    }
}
