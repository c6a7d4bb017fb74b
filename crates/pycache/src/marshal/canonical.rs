//! The canonical form of a marshal stream: what Fedora's `add-determinism` (`add-det
//! --handler=pyc`) writes, byte for byte, in one pass over the bytes.
//!
//! marshal sets FLAG_REF on an object whose reference count is above one when it is written,
//! and writes a reference instead of an object it has already written *as the same object*; both
//! depend on what the writing process did before (interning, imports, earlier compilations). The
//! canonical form depends only on the values: every object equal to one written earlier (same
//! type code family, same bytes, same items) becomes a reference to that first one, FLAG_REF is
//! set only on objects some reference uses, and references are numbered in the order of their
//! targets. Singletons (`None`, `True`, `False`, `...`, `StopIteration`, NULL) are written
//! plainly. Tuples use `)` below 256 items, `(` otherwise.
//!
//! This is a value-level dedup, not only the clearing of unused flags: two equal strings written
//! twice by the interpreter (different objects in its memory) are one object here, as in
//! `add-det`. `marshal.loads` gives equal code either way.
//!
//! How, cheaply (it runs on every pyc `compile --reproducible` writes): no [`Object`] tree is
//! built. The stream is walked once with a [`Cursor`] that refuses exactly what
//! [`read`](super::read()) refuses; a scalar's bytes are copied from the input as they are (its
//! key is its span of the input, never copied); a container's key is its type code and the ids
//! of its items, gathered on one stack shared by every depth and copied into an arena only when
//! new. Keys are hashed once, with a seeded multiply-fold hash, into an open-addressed table of
//! eight-byte slots (32 bits of the hash beside the node's id, sized from the payload's length);
//! entries whose hash bits match are told apart by comparing the keys' bytes, so equality is
//! exact. The table is small and flat because, between a worker's replies, the Python
//! processes evict it from the caches: in a compile, a lookup's cost is its cache misses. An
//! object found equal to one written before is taken back (the output truncated to where it
//! started) and written as a reference, as in the first implementation over a tree (the `tree`
//! module), against which it is tested.
//!
//! [`Object`]: super::Object

use super::cursor::Cursor;
use super::{FLAG_REF, Format, MarshalError};
use std::hash::{BuildHasher, RandomState};

/// An object's identity in the canonical form: equal values get equal ids.
type Id = u32;

/// The ids of the singletons, which are never shared through a reference.
const SINGLETONS: Id = 6;

/// In the input's reference list: an object not yet read whole.
const NONE: Id = Id::MAX;

/// `data[start..]` (one object, nothing after it) in canonical form, after `data[..start]`
/// copied as it is (a pyc's header).
pub(super) fn canonical_from(
    data: &[u8],
    start: usize,
    format: Format,
) -> Result<Vec<u8>, MarshalError> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    out.extend_from_slice(&data[..start]);
    let mut tables = SPARE.with(|spare| spare.take());
    tables.table.reset(data.len() - start);
    let mut canon = Canon {
        cursor: Cursor::new(data, start),
        format,
        seed: RandomState::new().hash_one(0x5eed_u64),
        out,
        tables,
    };
    canon.object()?;
    if canon.cursor.pos != data.len() {
        return Err(MarshalError::TrailingBytes {
            offset: canon.cursor.pos,
        });
    }
    Ok(canon.finish())
}

/// The tables of one run, cleared and kept for the thread's next run unless they grew large:
/// a compile thread canonicalizes thousands of pycs, and allocating (and faulting in) them
/// each time cost about 7% more CPU (`examples/marshal_cpu.rs`, 3.11 site-packages).
#[derive(Debug, Default)]
struct Tables {
    /// By the input's reference index: the id of the object it names ([`NONE`] while read).
    refs: Vec<Id>,
    /// From a key's hash to its node.
    table: Table,
    /// By id minus [`SINGLETONS`].
    nodes: Vec<Node>,
    /// The keys of containers written in full.
    arena: Vec<u8>,
    /// The keys of the containers being read, innermost on top.
    scratch: Vec<u8>,
    /// Each reference written: its offset and its target.
    fixups: Vec<(usize, Id)>,
    /// The nodes some reference uses: where they start, and their ids.
    used: Vec<(usize, Id)>,
}

impl Tables {
    /// Keeps `self` for the thread's next run, emptied, when it is not large.
    fn spare(mut self) {
        if self.nodes.capacity() > 1 << 16
            || self.arena.capacity() > 1 << 20
            || self.table.slots.capacity() > 1 << 17
        {
            return;
        }
        self.refs.clear();
        self.nodes.clear();
        self.arena.clear();
        self.scratch.clear();
        self.fixups.clear();
        self.used.clear();
        SPARE.with(|spare| spare.set(self));
    }
}

thread_local! {
    static SPARE: std::cell::Cell<Tables> = std::cell::Cell::new(Tables::default());
}

/// One value written in full: where, how often referenced, and its key.
#[derive(Debug)]
struct Node {
    /// Where its type byte is in the output.
    first: usize,
    /// How many references point at it; once [`Canon::finish`] numbers the references, its
    /// reference number.
    uses: u32,
    /// Its type code ('(' for both tuple forms).
    code: u8,
    /// Its key's bytes: `input[start..end]` for a scalar, `arena[start..end]` for a container.
    in_input: bool,
    start: usize,
    end: usize,
}

/// Where the bytes of a key being looked up are.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// A scalar's bytes after its type byte, in the input.
    Input(usize, usize),
    /// A container's item ids, on the scratch stack from this mark.
    Scratch(usize),
}

/// What [`Canon::find_or_add`] found.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// An equal value, written before with this id.
    Before(Id),
    /// Nothing equal: a new node with this id.
    New(Id),
}

#[derive(Debug)]
struct Canon<'a> {
    cursor: Cursor<'a>,
    format: Format,
    seed: u64,
    out: Vec<u8>,
    tables: Tables,
}

impl Canon<'_> {
    /// Writes the next object (or a reference to an equal one written before); its id.
    fn object(&mut self) -> Result<Id, MarshalError> {
        let offset = self.cursor.pos;
        self.cursor.check_depth(offset)?;
        let byte = self.cursor.byte()?;
        let (flagged, code) = (byte & FLAG_REF != 0, byte & !FLAG_REF);
        if let Some(id) = singleton(code) {
            self.out.push(code);
            return Ok(id);
        }
        if code == b'r' {
            let id = self.reference(offset)?;
            self.write_ref(id);
            return Ok(id);
        }
        let slot = flagged.then(|| {
            self.tables.refs.push(NONE);
            self.tables.refs.len() - 1
        });
        self.cursor.depth += 1;
        let id = self.value(code, offset);
        self.cursor.depth -= 1;
        let id = id?;
        if let Some(slot) = slot {
            self.tables.refs[slot] = id;
        }
        Ok(id)
    }

    fn reference(&mut self, offset: usize) -> Result<Id, MarshalError> {
        let index = self.cursor.u32()?;
        match self.tables.refs.get(index as usize) {
            Some(&NONE) => Err(MarshalError::RefInsideItself { offset, index }),
            Some(&id) => Ok(id),
            None => Err(MarshalError::BadRef {
                offset,
                index,
                count: self.tables.refs.len(),
            }),
        }
    }

    fn write_ref(&mut self, id: Id) {
        self.tables.fixups.push((self.out.len(), id));
        self.tables.nodes[(id - SINGLETONS) as usize].uses += 1;
        self.out.extend_from_slice(&[b'r', 0, 0, 0, 0]);
    }

    /// Writes the object of type `code` (its type byte already read at `offset`).
    fn value(&mut self, code: u8, offset: usize) -> Result<Id, MarshalError> {
        let (start, fixups, mark) = (
            self.out.len(),
            self.tables.fixups.len(),
            self.tables.scratch.len(),
        );
        let key_code = match code {
            b')' => {
                let len = u32::from(self.cursor.byte()?);
                self.items(b'(', len)?
            }
            b'(' | b'[' | b'<' | b'>' => {
                let len = self.cursor.u32()?;
                self.items(code, len)?
            }
            b'{' => self.dict()?,
            b'c' => self.code()?,
            b':' if self.format.version >= 5 => {
                self.out.push(b':');
                for _ in 0..3 {
                    self.item()?;
                }
                b':'
            }
            _ => return self.scalar(code, offset),
        };
        Ok(self.close(key_code, start, fixups, mark))
    }

    /// Copies a scalar as it is, or writes a reference to an equal one.
    fn scalar(&mut self, code: u8, offset: usize) -> Result<Id, MarshalError> {
        let body = self.cursor.pos;
        self.cursor.skip_scalar(code, offset)?;
        let end = self.cursor.pos;
        let first = self.out.len();
        match self.find_or_add(code, Body::Input(body, end), first) {
            Seen::Before(id) => {
                self.write_ref(id);
                Ok(id)
            }
            Seen::New(id) => {
                self.out.push(code);
                self.out.extend_from_slice(&self.cursor.data[body..end]);
                Ok(id)
            }
        }
    }

    /// One item of a container: written, its id pushed on the container's key.
    fn item(&mut self) -> Result<Id, MarshalError> {
        let id = self.object()?;
        self.tables.scratch.extend_from_slice(&id.to_le_bytes());
        Ok(id)
    }

    /// A tuple, list, set or frozenset of `len` items; its key code.
    fn items(&mut self, code: u8, len: u32) -> Result<u8, MarshalError> {
        let len = self.cursor.count(len, 1)?;
        if code == b'(' && len < 256 {
            self.out.extend_from_slice(&[b')', len as u8]);
        } else {
            self.out.push(code);
            self.out.extend_from_slice(&(len as u32).to_le_bytes());
        }
        for _ in 0..len {
            self.item()?;
        }
        Ok(code)
    }

    fn dict(&mut self) -> Result<u8, MarshalError> {
        self.out.push(b'{');
        loop {
            // The NULL that ends the dict is written (plainly) but is not part of the key.
            let key = self.object()?;
            if key == 0 {
                return Ok(b'{');
            }
            self.tables.scratch.extend_from_slice(&key.to_le_bytes());
            self.item()?;
        }
    }

    fn code(&mut self) -> Result<u8, MarshalError> {
        self.out.push(b'c');
        for name in self.format.code.fields() {
            if name.is_int() {
                let value = self.cursor.take(4)?;
                self.out.extend_from_slice(value);
                self.tables.scratch.extend_from_slice(value);
            } else {
                self.item()?;
            }
        }
        Ok(b'c')
    }

    /// Ends a container written from `start`: kept when new, else taken back (with the
    /// references inside it) and written as a reference.
    fn close(&mut self, code: u8, start: usize, fixups: usize, mark: usize) -> Id {
        let id = match self.find_or_add(code, Body::Scratch(mark), start) {
            Seen::New(id) => id,
            Seen::Before(id) => {
                self.out.truncate(start);
                for (_, target) in self.tables.fixups.drain(fixups..) {
                    self.tables.nodes[(target - SINGLETONS) as usize].uses -= 1;
                }
                self.write_ref(id);
                id
            }
        };
        self.tables.scratch.truncate(mark);
        id
    }

    /// An equal value written before, or a new node written at `first` (its key copied to the
    /// arena when it is a container's).
    fn find_or_add(&mut self, code: u8, body: Body, first: usize) -> Seen {
        let data = self.cursor.data;
        let Tables {
            table,
            nodes,
            arena,
            scratch,
            ..
        } = &mut self.tables;
        let bytes = match body {
            Body::Input(start, end) => &data[start..end],
            Body::Scratch(mark) => &scratch[mark..],
        };
        let next = SINGLETONS + nodes.len() as Id;
        let hash = hash_key(self.seed, code, bytes);
        let found = table.find_or_insert(hash, next, |id| {
            let node = &nodes[(id - SINGLETONS) as usize];
            let key = if node.in_input {
                &data[node.start..node.end]
            } else {
                &arena[node.start..node.end]
            };
            node.code == code && key == bytes
        });
        if let Some(id) = found {
            return Seen::Before(id);
        }
        let (in_input, start, end) = match body {
            Body::Input(start, end) => (true, start, end),
            Body::Scratch(_) => {
                let start = arena.len();
                arena.extend_from_slice(bytes);
                (false, start, arena.len())
            }
        };
        nodes.push(Node {
            first,
            uses: 0,
            code,
            in_input,
            start,
            end,
        });
        Seen::New(next)
    }

    /// Flags the objects that references use and numbers the references.
    fn finish(self) -> Vec<u8> {
        let Self {
            mut out,
            mut tables,
            ..
        } = self;
        let Tables {
            nodes,
            used,
            fixups,
            ..
        } = &mut tables;
        used.extend(
            (nodes.iter().zip(SINGLETONS..))
                .filter(|(node, _)| node.uses > 0)
                .map(|(node, id)| (node.first, id)),
        );
        used.sort_unstable();
        // From here a used node's `uses` is its reference number.
        for (number, &(first, id)) in used.iter().enumerate() {
            out[first] |= FLAG_REF;
            nodes[(id - SINGLETONS) as usize].uses = number as u32;
        }
        for &(offset, id) in fixups.iter() {
            let number = nodes[(id - SINGLETONS) as usize].uses;
            out[offset + 1..offset + 5].copy_from_slice(&number.to_le_bytes());
        }
        tables.spare();
        out
    }
}

/// The id of a singleton's type code.
fn singleton(code: u8) -> Option<Id> {
    Some(match code {
        b'0' => 0,
        b'N' => 1,
        b'F' => 2,
        b'T' => 3,
        b'S' => 4,
        b'.' => 5,
        _ => return None,
    })
}

/// A key's hash: its code, length and bytes folded sixteen at a time through a 64x64-bit
/// multiply of two words (the folded multiply of wyhash and foldhash), from a per-run random
/// `seed`. Bytecode strings are most of a pyc's bytes, so the loop's one multiply per 16 bytes
/// is most of the cost.
fn hash_key(seed: u64, code: u8, bytes: &[u8]) -> u64 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xD6E8_FEB8_6659_FD93;
    let fold = |x: u64, y: u64| {
        let wide = u128::from(x) * u128::from(y);
        (wide as u64) ^ ((wide >> 64) as u64)
    };
    let word = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let half = |b: &[u8]| u64::from(u32::from_le_bytes(b[..4].try_into().unwrap_or_default()));
    let mut hash = fold(seed ^ (u64::from(code) << 56) ^ bytes.len() as u64, K1);
    let len = bytes.len();
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        hash = fold(hash ^ word(chunk), word(&chunk[8..]) ^ K2);
    }
    // The last 1 to 15 bytes, read as overlapping words rather than copied into a buffer
    // (a copy then a load stalls store forwarding); the length is in the hash already.
    let rest = chunks.remainder().len();
    if rest > 0 {
        let (a, b) = if len >= 16 {
            (word(&bytes[len - 16..]), word(&bytes[len - 8..]))
        } else if len >= 8 {
            (word(bytes), word(&bytes[len - 8..]))
        } else if len >= 4 {
            (half(bytes), half(&bytes[len - 4..]))
        } else {
            let (first, middle) = (u64::from(bytes[0]), u64::from(bytes[len / 2]));
            ((first << 16) | (middle << 8) | u64::from(bytes[len - 1]), 0)
        };
        hash = fold(hash ^ a, b ^ K2);
    }
    fold(hash, K1)
}

/// An open-addressed table from a key's hash to the id of its node: each slot holds the hash's
/// low 32 bits (which also pick the slot) and the id, or [`EMPTY`]; probing is linear. It is
/// sized for the payload, at most half full.
#[derive(Debug, Default)]
struct Table {
    slots: Vec<u64>,
    /// How many slots are taken.
    len: usize,
}

/// A free slot (its id is [`NONE`], which no node has).
const EMPTY: u64 = u64::MAX;

impl Table {
    /// Empties the table and sizes it for a payload of `len` bytes: about one object in sixteen
    /// bytes is not a reference or a singleton (it grows if there are more).
    fn reset(&mut self, len: usize) {
        let slots = (len / 8).next_power_of_two().max(64);
        self.slots.clear();
        self.slots.resize(slots, EMPTY);
        self.len = 0;
    }

    /// The id of the entry with `hash` for which `same` holds, or None after `id` was
    /// inserted under `hash`.
    fn find_or_insert(
        &mut self,
        hash: u64,
        id: Id,
        mut same: impl FnMut(Id) -> bool,
    ) -> Option<Id> {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let tag = hash as u32;
        let mask = self.slots.len() - 1;
        let mut slot = tag as usize & mask;
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY {
                self.slots[slot] = (u64::from(tag) << 32) | u64::from(id);
                self.len += 1;
                return None;
            }
            if (entry >> 32) as u32 == tag && same(entry as u32) {
                return Some(entry as u32);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Twice as many slots, every entry placed again by its hash bits.
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        let mask = self.slots.len() - 1;
        for entry in old.into_iter().filter(|&entry| entry != EMPTY) {
            let mut slot = (entry >> 32) as usize & mask;
            while self.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Id, Table};

    /// Entries stay findable across growth, equal hashes are told apart by `same`, and what
    /// is absent is inserted: a table sized for a tiny payload grows many times here.
    #[test]
    fn table_finds_what_it_holds_across_growth() {
        let mut table = Table::default();
        table.reset(0);
        // Hashes that share their low bits (and so their first slot) in pairs.
        let hash = |id: Id| u64::from(id / 2) | (u64::from(id) << 40);
        for id in 0..5000 {
            assert_eq!(table.find_or_insert(hash(id), id, |_| false), None);
        }
        for id in 0..5000 {
            assert_eq!(
                table.find_or_insert(hash(id), 9999, |found| found == id),
                Some(id)
            );
        }
        assert_eq!(table.len, 5000);
        assert!(table.slots.len() >= 10_000);
    }
}
