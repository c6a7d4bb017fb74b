//! Which roots a command walks, and how deep: `compileall.main`'s defaults.
//!
//! With no `FILE|DIR`, `python -m compileall` compiles `sys.path` (each entry at depth 0,
//! `maxlevels=0`); with some, it walks them down to `-r N` (`-l`: 0), by default 10 levels
//! before 3.9 and the recursion limit from 3.9 on. `--pycache-prefix` replaces the
//! interpreter's `sys.pycache_prefix`.

use crate::cache_path::CacheScheme;
use crate::compile::PrefixSetting;
use crate::interpreter::Interpreter;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What a command derives from an interpreter and the selection options: its cache scheme
/// (with `--pycache-prefix` applied), the roots to walk (the targets, or `sys.path`) and how
/// deep (compileall's default for that interpreter, 0 for `sys.path`).
pub(crate) struct Scope {
    pub(crate) scheme: CacheScheme,
    pub(crate) roots: Vec<OsString>,
    pub(crate) max_levels: usize,
}

impl Scope {
    pub(crate) fn of(
        interpreter: &Interpreter,
        targets: &[OsString],
        max_levels: Option<usize>,
        pycache_prefix: &PrefixSetting,
    ) -> Self {
        let scheme = pycache_prefix.apply(interpreter.cache_scheme());
        if targets.is_empty() {
            Scope {
                scheme,
                roots: sys_path_roots(interpreter),
                max_levels: 0,
            }
        } else {
            Scope {
                scheme,
                roots: targets.to_vec(),
                max_levels: max_levels.unwrap_or_else(|| default_max_levels(interpreter)),
            }
        }
    }
}

/// compileall's default recursion depth for `version`.
fn default_max_levels(interpreter: &Interpreter) -> usize {
    if interpreter.version().at_least(3, 9) {
        1000
    } else {
        10
    }
}

/// The roots compileall uses with no argument: `sys.path` as `python -m compileall` sees it,
/// where the first entry is the current directory from 3.7 on and skipped before; only
/// directories.
fn sys_path_roots(interpreter: &Interpreter) -> Vec<OsString> {
    let cwd = std::env::current_dir()
        .map(PathBuf::into_os_string)
        .unwrap_or_default();
    interpreter
        .sys_path()
        .into_iter()
        .map(PathBuf::into_os_string)
        .filter_map(|entry| {
            if entry.is_empty() || entry == "." {
                interpreter.version().at_least(3, 7).then(|| cwd.clone())
            } else {
                Some(entry)
            }
        })
        // compileall only prints "Can't list" for entries that are not directories (zip files,
        // paths that do not exist): they are not failures, so they are not walked at all.
        .filter(|entry| Path::new(entry).is_dir())
        .collect()
}
