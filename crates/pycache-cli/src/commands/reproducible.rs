//! `--reproducible` for `check`: which pycs are not in the canonical form (the one Fedora's
//! `add-det` writes), read on every core without starting Python.

use pycache::marshal::Pyc;
use std::path::{Path, PathBuf};

/// Why a pyc is not reproducible.
#[derive(Debug)]
pub(crate) struct NotCanonical {
    pub(crate) pyc: PathBuf,
    /// `None`: readable but not canonical; `Some`: why its code could not be read.
    pub(crate) error: Option<String>,
}

fn verdict(pyc: &Path) -> Option<NotCanonical> {
    let error = |error: String| {
        Some(NotCanonical {
            pyc: pyc.to_owned(),
            error: Some(error),
        })
    };
    let data = match std::fs::read(pyc) {
        Ok(data) => data,
        Err(e) => return error(e.to_string()),
    };
    match Pyc::split(&data).and_then(|p| p.is_canonical()) {
        Ok(true) => None,
        Ok(false) => Some(NotCanonical {
            pyc: pyc.to_owned(),
            error: None,
        }),
        Err(e) => error(e.to_string()),
    }
}

/// The pycs of `pycs` that are not canonical, in the order given.
pub(crate) fn not_canonical(pycs: &[&Path]) -> Vec<NotCanonical> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = pycs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pycs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().filter_map(|p| verdict(p)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
