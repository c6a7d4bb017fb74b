//! Bundles: the entries of one source directory, compiled by one interpreter, as one remote
//! object, so that a machine with an empty local cache fetches a directory with one request
//! instead of one per file (a remote charges per request: a round trip, a command to parse, a
//! rate limit on GitHub's cache).
//!
//! A bundle is found by what the reader already knows before asking: its key is the digest of
//! the sorted, deduplicated keys of every file of the directory that the run looked up
//! ([`bundle_key`]). A machine that looks up the same files with the same sources asks for the
//! same bundle; one whose directory differs in any file asks for another, misses, and falls
//! back to one request per file. Bundles are stored beside the per-file entries, by the run that
//! looked for one and did not find it.
//!
//! Layout (little-endian): `PYCBNDL\0`, [`CACHE_FORMAT`] (u32), the entry count (u32), then per
//! entry its key (32 bytes) and length (u64), then the entries ([`super::Entry::encode`], each
//! checked with its own checksum and key when it is used).

use super::key::{CACHE_FORMAT, CacheKey};

const MAGIC: &[u8; 8] = b"PYCBNDL\0";
const HEAD: usize = 8 + 4 + 4;
const RECORD: usize = 32 + 8;

/// The key of the bundle holding the entries of `keys` (in any order, repeats ignored).
pub fn bundle_key(keys: &[CacheKey]) -> CacheKey {
    let mut sorted: Vec<&[u8; 32]> = keys.iter().map(CacheKey::as_bytes).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"pycache bundle\0");
    hasher.update(&CACHE_FORMAT.to_le_bytes());
    hasher.update(&(sorted.len() as u64).to_le_bytes());
    for key in sorted {
        hasher.update(key);
    }
    CacheKey::from_bytes(*hasher.finalize().as_bytes())
}

/// The bundle of `entries` (each a key and its encoded entry).
pub fn encode_bundle(entries: &[(CacheKey, Vec<u8>)]) -> Vec<u8> {
    let body: usize = entries.iter().map(|(_, bytes)| bytes.len()).sum();
    let mut out = Vec::with_capacity(HEAD + entries.len() * RECORD + body);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (key, bytes) in entries {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    }
    for (_, bytes) in entries {
        out.extend_from_slice(bytes);
    }
    out
}

/// The entries of the bundle `bytes` (each a key and its encoded entry, not yet checked), or
/// `None` when `bytes` is not a whole bundle of this format.
pub fn decode_bundle(bytes: &[u8]) -> Option<Vec<(CacheKey, &[u8])>> {
    let head = bytes.get(..HEAD)?;
    if &head[..8] != MAGIC || head[8..12] != CACHE_FORMAT.to_le_bytes() {
        return None;
    }
    let count = u32::from_le_bytes(head[12..16].try_into().ok()?) as usize;
    let records = bytes.get(HEAD..HEAD.checked_add(count.checked_mul(RECORD)?)?)?;
    let mut at = HEAD + records.len();
    let mut entries = Vec::with_capacity(count);
    for record in records.chunks_exact(RECORD) {
        let key = CacheKey::from_bytes(record[..32].try_into().ok()?);
        let len = usize::try_from(u64::from_le_bytes(record[32..].try_into().ok()?)).ok()?;
        let end = at.checked_add(len)?;
        entries.push((key, bytes.get(at..end)?));
        at = end;
    }
    (at == bytes.len()).then_some(entries)
}
