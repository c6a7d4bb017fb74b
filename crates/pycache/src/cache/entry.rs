//! One cached value: a payload, the interpreter's warnings and where re-pointing changes the
//! payload, with a checksum.
//!
//! Layout (little-endian): `PYCCODE\0`, format (u32), flags (u32, bit 0: canonical), the key
//! (32 bytes), the XXH3-128 of all but itself and the magic (16 bytes), payload length (u64),
//! warnings length (u64), spots length (u64), the payload, the warnings (UTF-8), the spots
//! (where re-pointing changes the payload: `marshal::FilenameSpots`, opaque here). Every field is
//! checked on decode; nothing is trusted.
//!
//! The checksum catches damage (a cut, a flipped bit, a file of another kind), not forgery:
//! whoever can write an entry can write its checksum, so it need not be cryptographic, and
//! XXH3 checks the 137 MB of a warm site-packages run in a few milliseconds where BLAKE3 took
//! some 50 ms of CPU.

use super::key::{CACHE_FORMAT, CacheKey};

const MAGIC: &[u8; 8] = b"PYCCODE\0";
const HEAD: usize = 8 + 4 + 4 + 32 + 16 + 8 + 8 + 8;
/// The three lengths that end the head.
const LENGTHS: usize = 24;

/// A cached compile result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// `marshal.dumps(code)`, compiled with some `co_filename` (re-pointed on a hit).
    pub payload: Vec<u8>,
    /// What the interpreter warned while compiling (compileall prints it), or empty.
    pub warnings: String,
    /// Whether the payload is in canonical form.
    pub canonical: bool,
    /// Where re-pointing changes the payload (`marshal::FilenameSpots::to_bytes`), found when
    /// it was stored so that a hit need not scan it; empty when not known.
    pub filename_spots: Vec<u8>,
}

/// Why bytes read from the cache are not a usable entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Shorter than its header or than the lengths it declares.
    #[error("truncated entry ({len} bytes)")]
    Truncated {
        /// The length read.
        len: usize,
    },
    /// Not an entry of this format.
    #[error("not a pycache cache entry of format {CACHE_FORMAT}")]
    WrongFormat,
    /// An entry for another key (a file renamed or copied in by hand).
    #[error("entry is for another key")]
    WrongKey,
    /// The checksum does not match the contents.
    #[error("checksum mismatch")]
    Checksum,
    /// The warnings are not UTF-8.
    #[error("warnings are not UTF-8")]
    Warnings,
}

impl Entry {
    /// An entry holding `payload` and `warnings`.
    pub fn new(payload: Vec<u8>, warnings: String, canonical: bool) -> Self {
        Entry {
            payload,
            warnings,
            canonical,
            filename_spots: Vec::new(),
        }
    }

    /// The same entry, with the spots where re-pointing changes its payload.
    pub fn with_filename_spots(self, filename_spots: Vec<u8>) -> Self {
        Entry {
            filename_spots,
            ..self
        }
    }

    /// The bytes stored for `key`.
    pub fn encode(&self, key: &CacheKey) -> Vec<u8> {
        Self::encode_parts(
            key,
            &self.payload,
            &self.warnings,
            self.canonical,
            &self.filename_spots,
        )
    }

    /// The bytes [`Entry::encode`] gives for an entry of these parts, without making the entry
    /// (a payload just compiled is not copied into one).
    pub fn encode_parts(
        key: &CacheKey,
        payload: &[u8],
        warnings: &str,
        canonical: bool,
        filename_spots: &[u8],
    ) -> Vec<u8> {
        let len = HEAD + payload.len() + warnings.len() + filename_spots.len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
        out.extend_from_slice(&u32::from(canonical).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&[0; 16]); // the checksum, once what it covers is written
        for part in [payload, warnings.as_bytes(), filename_spots] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        }
        out.extend_from_slice(payload);
        out.extend_from_slice(warnings.as_bytes());
        out.extend_from_slice(filename_spots);
        let sum = checksum(&out[8..48], &out[HEAD - LENGTHS..]);
        out[48..64].copy_from_slice(&sum);
        out
    }

    /// The entry `bytes` hold, checked against `key` and the checksum.
    ///
    /// # Errors
    /// [`EntryError`] for anything but a whole, intact entry of this format for `key`.
    pub fn decode(bytes: &[u8], key: &CacheKey) -> Result<Self, EntryError> {
        EntryView::new(bytes, key).map(EntryView::to_entry)
    }

    /// Whether `bytes` are a whole, intact entry of this format for `key`, as
    /// [`Entry::decode`] would say, without copying it out.
    ///
    /// # Errors
    /// As [`Entry::decode`].
    pub fn check(bytes: &[u8], key: &CacheKey) -> Result<(), EntryError> {
        EntryView::new(bytes, key).map(drop)
    }
}

/// The fields of an encoded entry, in place, without copying the payload out (an
/// [`EntryBuf`]'s, or those of bytes borrowed: a remote's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryView<'a> {
    /// As [`Entry::payload`].
    pub payload: &'a [u8],
    /// As [`Entry::warnings`].
    pub warnings: &'a str,
    /// As [`Entry::filename_spots`].
    pub filename_spots: &'a [u8],
    /// As [`Entry::canonical`].
    pub canonical: bool,
}

impl<'a> EntryView<'a> {
    /// The fields of `bytes`, checked against `key` and the checksum.
    ///
    /// # Errors
    /// As [`Entry::decode`].
    pub fn new(bytes: &'a [u8], key: &CacheKey) -> Result<Self, EntryError> {
        Ok(Layout::of(bytes, key)?.view(bytes))
    }

    /// The entry, copied out.
    #[must_use]
    pub fn to_entry(self) -> Entry {
        Entry {
            payload: self.payload.to_vec(),
            warnings: self.warnings.to_owned(),
            canonical: self.canonical,
            filename_spots: self.filename_spots.to_vec(),
        }
    }
}

/// An intact entry in the buffer it was read into: what a hit writes from, its payload left in
/// place.
#[derive(Debug)]
pub struct EntryBuf {
    bytes: Vec<u8>,
    layout: Layout,
}

impl EntryBuf {
    /// The entry `bytes` hold, checked against `key` and the checksum.
    ///
    /// # Errors
    /// As [`Entry::decode`].
    pub fn new(bytes: Vec<u8>, key: &CacheKey) -> Result<Self, EntryError> {
        let layout = Layout::of(&bytes, key)?;
        Ok(EntryBuf { bytes, layout })
    }

    /// Its payload (as [`EntryBuf::view`] gives it).
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.layout.payload.clone()]
    }

    /// Its fields.
    pub fn view(&self) -> EntryView<'_> {
        self.layout.view(&self.bytes)
    }
}

/// Where the fields of an entry are in its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    payload: std::ops::Range<usize>,
    warnings: std::ops::Range<usize>,
    spots: std::ops::Range<usize>,
    canonical: bool,
}

impl Layout {
    /// The layout of `bytes`, checked against `key`, the checksum and the warnings' encoding.
    fn of(bytes: &[u8], key: &CacheKey) -> Result<Self, EntryError> {
        let truncated = EntryError::Truncated { len: bytes.len() };
        if bytes.len() < HEAD {
            return Err(truncated);
        }
        let (head, body) = bytes.split_at(HEAD - LENGTHS);
        if &head[..8] != MAGIC || head[8..12] != CACHE_FORMAT.to_le_bytes() {
            return Err(EntryError::WrongFormat);
        }
        if head[16..48] != key.as_bytes()[..] {
            return Err(EntryError::WrongKey);
        }
        if checksum(&head[8..48], body)[..] != head[48..64] {
            return Err(EntryError::Checksum);
        }
        let length = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().unwrap_or([0; 8]));
        let (payload_len, warnings_len, spots_len) = (length(0), length(8), length(16));
        let total = payload_len
            .checked_add(warnings_len)
            .and_then(|len| len.checked_add(spots_len));
        if total != Some((bytes.len() - HEAD) as u64) {
            return Err(truncated);
        }
        // Each length is at most the bytes' length now.
        let payload = HEAD..HEAD + payload_len as usize;
        let warnings = payload.end..payload.end + warnings_len as usize;
        let spots = warnings.end..bytes.len();
        if std::str::from_utf8(&bytes[warnings.clone()]).is_err() {
            return Err(EntryError::Warnings);
        }
        Ok(Layout {
            payload,
            warnings,
            spots,
            canonical: head[12..16] != [0; 4],
        })
    }

    /// The fields of `bytes` (the ones this layout is of, so the warnings are UTF-8).
    fn view<'a>(&self, bytes: &'a [u8]) -> EntryView<'a> {
        EntryView {
            payload: &bytes[self.payload.clone()],
            warnings: std::str::from_utf8(&bytes[self.warnings.clone()]).unwrap_or_default(),
            filename_spots: &bytes[self.spots.clone()],
            canonical: self.canonical,
        }
    }
}

/// The checksum of an entry: its format, flags and key, then its body.
fn checksum(fields: &[u8], body: &[u8]) -> [u8; 16] {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(fields);
    hasher.update(body);
    hasher.digest128().to_le_bytes()
}
