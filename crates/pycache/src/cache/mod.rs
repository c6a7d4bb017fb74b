//! A content-addressed cache of compiled code: never compile the same code twice.
//!
//! The same source bytes, compiled by the same interpreter build at the same optimization level
//! by the same worker script, give the same marshalled code wherever the file sits, once
//! `co_filename` is re-pointed (see the marshal layer). So the cache is keyed by what can change
//! the payload ([`CacheKey`]) and never by the path, and holds only the payload and the
//! interpreter's warnings ([`Entry`]): the header is pycache's own to write.
//!
//! [`LocalCache`] keeps entries under one directory (`$PYCACHE_CACHE_DIR/code`, else
//! `$XDG_CACHE_HOME/pycache/code`, else `~/.cache/pycache/code`), packed into files written
//! atomically (a temporary file renamed into place), so any number of pycache processes may share
//! it. Every read checks the entry's checksum and key: a damaged, truncated or foreign entry is a
//! miss, never written into a pyc, and its pack is rewritten without it when the run ends. A size
//! cap is kept by evicting the least recently used packs (a hit refreshes its pack's mtime).
//!
//! It must never make a build fail: every error here is reported to the caller as a miss or a
//! skipped store, with the reason, and the caller compiles as if there were no cache.

mod bundle;
mod entry;
mod key;
mod local;
#[cfg(feature = "remote")]
mod remote;
mod stats;

pub use bundle::{bundle_key, decode_bundle, encode_bundle};
pub use entry::{Entry, EntryBuf, EntryError, EntryView};
pub use key::{CACHE_FORMAT, CacheKey, KeyParts};
pub use local::{CacheUsage, LocalCache, Lookup, PruneReport};
#[cfg(feature = "remote")]
pub use remote::{RemoteCache, RemoteError};
pub use stats::{RunStats, recent_runs, record_run};

/// The default size cap of the local cache: 2 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 2 << 30;

/// The local cache directory: `code/` under pycache's cache directory
/// ([`crate::interpreter::cache_dir`]).
pub fn default_dir() -> Option<std::path::PathBuf> {
    crate::interpreter::cache_dir().map(|dir| dir.join("code"))
}

#[cfg(test)]
mod tests;
