//! PEP 552 source hashes, computed natively.
//!
//! `importlib.util.source_hash(data)` is SipHash keyed with `(_RAW_MAGIC_NUMBER, 0)` over the raw
//! source bytes, output little-endian. CPython used SipHash-2-4 for 3.7 to 3.10 and SipHash-1-3
//! from 3.11 on (bpo-29410). Computing it here is what lets freshness of checked-hash pycs be
//! decided without starting Python.

use crate::magic::Magic;
use crate::version::PythonVersion;
use siphasher::sip::{SipHasher13, SipHasher24};
use std::hash::Hasher;

/// The SipHash variant an interpreter uses for source hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceHashAlgorithm {
    /// SipHash-2-4: CPython 3.7 to 3.10 and PyPy 3.
    SipHash24,
    /// SipHash-1-3: CPython 3.11 and later.
    SipHash13,
}

impl SourceHashAlgorithm {
    /// The algorithm CPython `version` uses; `None` before 3.7, which has no hash-based pycs.
    pub fn for_cpython(version: PythonVersion) -> Option<Self> {
        if !version.at_least(3, 7) {
            None
        } else if version.at_least(3, 11) {
            Some(SourceHashAlgorithm::SipHash13)
        } else {
            Some(SourceHashAlgorithm::SipHash24)
        }
    }
}

/// `importlib.util.source_hash(source)` for an interpreter with this magic and algorithm.
///
/// # Examples
///
/// ```
/// use pycache::{source_hash, Magic, SourceHashAlgorithm};
/// let magic = Magic::from_number(3531); // CPython 3.12
/// let hash = source_hash(SourceHashAlgorithm::SipHash13, magic, b"x = 1\n");
/// assert_eq!(hash.len(), 8);
/// ```
pub fn source_hash(algorithm: SourceHashAlgorithm, magic: Magic, source: &[u8]) -> [u8; 8] {
    let key = u64::from(magic.raw());
    let value = match algorithm {
        SourceHashAlgorithm::SipHash24 => {
            let mut hasher = SipHasher24::new_with_keys(key, 0);
            hasher.write(source);
            hasher.finish()
        }
        SourceHashAlgorithm::SipHash13 => {
            let mut hasher = SipHasher13::new_with_keys(key, 0);
            hasher.write(source);
            hasher.finish()
        }
    };
    value.to_le_bytes()
}
