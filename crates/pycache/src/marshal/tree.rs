//! The first implementations of [`canonical`](super::canonical()) and
//! [`rewrite_filename`](super::rewrite_filename()), over an [`Object`] tree: read the whole
//! stream, change the tree, write it again. They are the plain statement of what the streaming
//! passes ([`canonical`](super::canonical) and [`filename`](super::filename) modules) must
//! produce, kept as the reference those are tested against (property tests, and the oracle
//! tests through [`tree_reference`](super::tree_reference)) and benchmarked against
//! (`examples/marshal_cpu.rs`). Nothing else calls them.
//!
//! Canonical: every object equal to one written earlier (same type code family, same bytes,
//! same items) becomes a reference to that first one, FLAG_REF only on objects some reference
//! uses, references numbered in the order of their targets, singletons written plainly, tuples
//! with `)` below 256 items and `(` otherwise. Keys are built as `Vec`s and hashed with SipHash.
//!
//! Filename: the reference indices that `co_filename` fields name are collected, then every
//! filename written in full and every flagged string so named is replaced, and the tree written
//! again.

use super::FLAG_REF;
use super::filename::encode_surrogatepass;
use super::object::{Code, Field, FieldName, Long, Object, StrKind, Value};
use std::collections::{HashMap, HashSet};

/// An object's identity in the canonical form: equal values get equal ids.
type Id = u32;

/// The ids of the singletons, which are never shared through a reference.
const SINGLETONS: u32 = 6;

#[derive(Debug, PartialEq, Eq, Hash)]
enum Key<'a> {
    Int(i32),
    Long(&'a Long),
    Float(u64),
    Complex(u64, u64),
    Bytes(&'a [u8]),
    Str(StrKind, &'a [u8]),
    Seq(u8, Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Code(Vec<i32>, Vec<Id>),
    Slice([Id; 3]),
}

/// Writes `root` in canonical form.
pub(super) fn write_canonical(root: &Object) -> Vec<u8> {
    let mut writer = Canon {
        out: Vec::new(),
        ids: HashMap::new(),
        first: Vec::new(),
        uses: Vec::new(),
        fixups: Vec::new(),
        ref_ids: Vec::new(),
    };
    writer.emit(root);
    writer.finish()
}

struct Canon<'a> {
    out: Vec<u8>,
    ids: HashMap<Key<'a>, Id>,
    /// By id minus [`SINGLETONS`]: where its one full copy starts in `out`.
    first: Vec<usize>,
    /// By id minus [`SINGLETONS`]: how many references point at it.
    uses: Vec<u32>,
    /// Each reference written: its offset and its target.
    fixups: Vec<(usize, Id)>,
    /// By the input's reference index: the id of the object it names.
    ref_ids: Vec<Id>,
}

impl<'a> Canon<'a> {
    /// Writes `object` (or a reference to an equal object written before) and returns its id.
    fn emit(&mut self, object: &'a Object) -> Id {
        if let Some((id, byte)) = singleton(&object.value) {
            self.out.push(byte);
            return id;
        }
        if let Value::Ref(index) = object.value {
            // The reader only accepts references to objects read whole, which have an id.
            let id = self.ref_ids.get(index as usize).copied().unwrap_or(0);
            self.write_ref(id);
            return id;
        }
        let slot = object.flag_ref.then(|| {
            self.ref_ids.push(0);
            self.ref_ids.len() - 1
        });
        let (start, mark) = (self.out.len(), self.fixups.len());
        let key = self.write_value(&object.value);
        let next = SINGLETONS + self.first.len() as Id;
        let id = *self.ids.entry(key).or_insert(next);
        if let Some(slot) = slot {
            self.ref_ids[slot] = id;
        }
        if id == next {
            self.first.push(start);
            self.uses.push(0);
        } else {
            // Written before: take back this copy (and the references inside it).
            self.out.truncate(start);
            for (_, target) in self.fixups.drain(mark..) {
                self.uses[(target - SINGLETONS) as usize] -= 1;
            }
            self.write_ref(id);
        }
        id
    }

    fn write_ref(&mut self, id: Id) {
        self.fixups.push((self.out.len(), id));
        self.uses[(id - SINGLETONS) as usize] += 1;
        self.out.extend_from_slice(&[b'r', 0, 0, 0, 0]);
    }

    fn write_value(&mut self, value: &'a Value) -> Key<'a> {
        let out = &mut self.out;
        match value {
            Value::Int(v) => {
                out.push(b'i');
                out.extend_from_slice(&v.to_le_bytes());
                Key::Int(*v)
            }
            Value::Long(long) => {
                out.push(b'l');
                out.extend_from_slice(&long.count.to_le_bytes());
                long.digits
                    .iter()
                    .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
                Key::Long(long)
            }
            Value::Float(bits) => {
                out.push(b'g');
                out.extend_from_slice(&bits.to_le_bytes());
                Key::Float(*bits)
            }
            Value::Complex(re, im) => {
                out.push(b'y');
                out.extend_from_slice(&re.to_le_bytes());
                out.extend_from_slice(&im.to_le_bytes());
                Key::Complex(*re, *im)
            }
            Value::Bytes(data) => {
                out.push(b's');
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(data);
                Key::Bytes(data)
            }
            Value::Str(s) => {
                out.push(s.kind.code());
                if s.kind.is_short() {
                    out.push(s.data.len() as u8);
                } else {
                    out.extend_from_slice(&(s.data.len() as u32).to_le_bytes());
                }
                out.extend_from_slice(&s.data);
                Key::Str(s.kind, &s.data)
            }
            Value::Tuple { items, .. } => {
                if items.len() < 256 {
                    out.extend_from_slice(&[b')', items.len() as u8]);
                } else {
                    self.sized_header(b'(', items.len());
                }
                Key::Seq(b'(', self.emit_all(items))
            }
            Value::List(items) => self.seq(b'[', items),
            Value::Set(items) => self.seq(b'<', items),
            Value::FrozenSet(items) => self.seq(b'>', items),
            Value::Dict(pairs) => {
                self.out.push(b'{');
                let ids = pairs
                    .iter()
                    .map(|(k, v)| (self.emit(k), self.emit(v)))
                    .collect();
                self.out.push(b'0');
                Key::Dict(ids)
            }
            Value::Code(code) => self.code(code),
            Value::Slice(parts) => {
                self.out.push(b':');
                let [a, b, c] = &**parts;
                Key::Slice([self.emit(a), self.emit(b), self.emit(c)])
            }
            // Handled by `emit`.
            _ => Key::Int(0),
        }
    }

    fn sized_header(&mut self, code: u8, len: usize) {
        self.out.push(code);
        self.out.extend_from_slice(&(len as u32).to_le_bytes());
    }

    fn seq(&mut self, code: u8, items: &'a [Object]) -> Key<'a> {
        self.sized_header(code, items.len());
        Key::Seq(code, self.emit_all(items))
    }

    fn emit_all(&mut self, items: &'a [Object]) -> Vec<Id> {
        items.iter().map(|item| self.emit(item)).collect()
    }

    fn code(&mut self, code: &'a Code) -> Key<'a> {
        self.out.push(b'c');
        let (mut ints, mut ids) = (Vec::new(), Vec::new());
        for field in &code.fields {
            match field {
                Field::Int(v) => {
                    self.out.extend_from_slice(&v.to_le_bytes());
                    ints.push(*v);
                }
                Field::Object(object) => ids.push(self.emit(object)),
            }
        }
        Key::Code(ints, ids)
    }

    /// Flags the objects that references use and numbers the references.
    fn finish(mut self) -> Vec<u8> {
        let mut used: Vec<(usize, Id)> = (self.first.iter().zip(&self.uses))
            .zip(SINGLETONS..)
            .filter(|((_, uses), _)| **uses > 0)
            .map(|((start, _), id)| (*start, id))
            .collect();
        used.sort_unstable();
        let mut number = vec![0u32; self.first.len()];
        for (index, (start, id)) in used.into_iter().enumerate() {
            self.out[start] |= FLAG_REF;
            number[(id - SINGLETONS) as usize] = index as u32;
        }
        for (offset, id) in self.fixups {
            let index = number[(id - SINGLETONS) as usize];
            self.out[offset + 1..offset + 5].copy_from_slice(&index.to_le_bytes());
        }
        self.out
    }
}

/// The id and byte of a singleton.
fn singleton(value: &Value) -> Option<(Id, u8)> {
    Some(match value {
        Value::Null => (0, b'0'),
        Value::None => (1, b'N'),
        Value::False => (2, b'F'),
        Value::True => (3, b'T'),
        Value::StopIteration => (4, b'S'),
        Value::Ellipsis => (5, b'.'),
        _ => return None,
    })
}

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
