//! Faults, races and resource limits (issue 15): pycache never escapes the trees it is given,
//! never hangs, and never passes silently. Each test reproduces one report.

mod clean;
mod errors;
mod files;
mod memory;
mod names;
mod payloads;
mod probes;
pub(crate) mod workers;

use crate::compile::{Python, default_python};
use std::path::Path;

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The interpreter these tests use (`python3` on PATH).
pub(crate) fn python() -> Python {
    default_python()
}
