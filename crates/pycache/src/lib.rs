//! Python's bytecode-cache machinery, exactly and without starting Python where it can.
//!
//! - [`CacheScheme`]: `cache_from_source` / `source_from_cache` (PEP 3147, PEP 488,
//!   `sys.pycache_prefix`), byte-for-byte as importlib computes them, errors included.
//! - [`PycHeader`]: every CPython 3 header layout, timestamp and hash-based (PEP 552), with
//!   [`source_hash`] computed natively.
//! - [`classify_pyc`]: what an interpreter's import decides about a pyc (fresh, or stale and why).
//! - [`Magic`]: which Python wrote a pyc, from the magic table.
//! - [`marshal`]: the code inside a pyc, read, written back byte for byte, canonicalized and
//!   re-pointed to another source path, for CPython 3.6 to 3.13 and PyPy 3.
//! - [`Interpreter`]: the facts above learnt from a real interpreter once and cached; discovery
//!   over virtualenvs, `PATH`, pyenv and uv.
//!
//! ```
//! use pycache::{CacheScheme, PythonVersion};
//! use std::ffi::OsStr;
//!
//! let scheme = CacheScheme::new(Some("cpython-313"), PythonVersion::new(3, 13));
//! let pyc = scheme.cache_from_source(OsStr::new("/srv/app/main.py"), None).unwrap();
//! assert_eq!(pyc, "/srv/app/__pycache__/main.cpython-313.pyc");
//! ```
#![deny(missing_docs)]

// The walk lists directories with `getdents64` and `/proc/self/fd` tells `clean` where a
// directory really is: Linux only for now (the README says so).
#[cfg(not(target_os = "linux"))]
compile_error!("pycache supports Linux only for now");

pub mod cache;
mod cache_path;
pub mod compile;
pub mod exclude;
pub mod extension;
mod freshness;
mod header;
pub mod hygiene;
pub mod interpreter;
mod magic;
pub mod marshal;
mod parallel;
pub mod payload;
pub mod pyc;
pub mod python_str;
mod regular_file;
mod source_hash;
mod version;
pub mod walk;

pub use cache_path::{CachePathError, CacheScheme, OPT_PREFIX, PYCACHE, legacy_cache_from_source};
pub use freshness::{
    CheckHashBasedPycs, FreshBy, Freshness, ImportRules, SourceStat, StaleReason, classify_pyc,
    classify_pyc_file,
};
pub use header::{
    HeaderError, HeaderLayout, Invalidation, InvalidationMode, PycHeader, mask_u32, python_mtime,
};
pub use interpreter::{Interpreter, InterpreterError, InterpreterRequest};
pub use magic::{Implementation, KnownMagic, Magic, cpython_final_magic};
pub use source_hash::{SourceHashAlgorithm, source_hash};
pub use version::{ParseVersionError, PythonVersion};
