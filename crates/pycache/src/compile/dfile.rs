//! The name compiled into code objects (`co_filename`): compileall's `-d`, `-s` and `-p`.
//!
//! The rules changed twice and each interpreter's own are followed:
//! - 3.6: `-d DIR` gives `DIR/<basename>` for every file (subdirectories are lost);
//! - 3.7, 3.8: `-d DIR` gives `DIR/<subdirs>/<basename>`;
//! - 3.9 to 3.12: `-d` on a directory is `-s <that dir> -p DIR`; `-s` removes, for each pair of
//!   equal components of the strip path and the file path, the first occurrence of that
//!   component (so a non-prefix can still strip); `-p` is joined in front;
//! - 3.13: `-s` strips only an exact component prefix, and prints a warning otherwise.

use crate::python_str::repr;
use crate::version::PythonVersion;
use crate::walk::{Candidate, basename, posix_join};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// `-d`, `-s`, `-p` as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DfileOptions {
    /// `-d DESTDIR`.
    pub ddir: Option<OsString>,
    /// `-s STRIPDIR`.
    pub stripdir: Option<OsString>,
    /// `-p PREPENDDIR`.
    pub prependdir: Option<OsString>,
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dfile {
    /// The name to compile with; `None` means the source path itself.
    pub name: Option<Vec<u8>>,
    /// 3.13's "not a valid prefix" message, printed by compileall unless `-qq`.
    pub warning: Option<String>,
}

/// Stripping left nothing: `os.path.join()` with no arguments (3.9+).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TypeError: join() missing 1 required positional argument: 'a'")]
pub struct NothingLeft;

fn join_parts(parts: &[&[u8]]) -> Result<Vec<u8>, NothingLeft> {
    let (first, rest) = parts.split_first().ok_or(NothingLeft)?;
    Ok(rest
        .iter()
        .fold(first.to_vec(), |acc, part| posix_join(&acc, part)))
}

/// Computes `dfile` for `candidate` as `version`'s compileall does. `root` is the
/// command-line argument the candidate came from.
///
/// # Errors
///
/// [`NothingLeft`] when `-s` strips every component (compileall's `TypeError`).
pub fn dfile_for(
    version: PythonVersion,
    candidate: &Candidate,
    root: &OsString,
    options: &DfileOptions,
) -> Result<Dfile, NothingLeft> {
    let fullname = candidate.path.as_bytes();
    let name = basename(fullname);
    let none = Dfile {
        name: None,
        warning: None,
    };
    if !version.at_least(3, 9) {
        let Some(ddir) = &options.ddir else {
            return Ok(none);
        };
        let mut dir = ddir.as_bytes().to_vec();
        if version.at_least(3, 7) && !candidate.explicit {
            for sub in candidate.subdirs.iter() {
                dir = posix_join(&dir, sub.as_bytes());
            }
        }
        return Ok(Dfile {
            name: Some(posix_join(&dir, name)),
            warning: None,
        });
    }
    // 3.9+: a directory's -d becomes stripdir=<the directory>, prependdir=<-d>.
    let (ddir, stripdir, prependdir) = match (&options.ddir, candidate.explicit) {
        (Some(ddir), false) => (None, Some(root.clone()), Some(ddir.clone())),
        (ddir, _) => (
            ddir.clone(),
            options.stripdir.clone(),
            options.prependdir.clone(),
        ),
    };
    let mut dfile: Option<Vec<u8>> = ddir.map(|d| posix_join(d.as_bytes(), name));
    let mut warning = None;
    if let Some(stripdir) = &stripdir {
        let full_parts: Vec<&[u8]> = fullname.split(|&b| b == b'/').collect();
        let strip_parts: Vec<&[u8]> = stripdir.as_bytes().split(|&b| b == b'/').collect();
        if version.at_least(3, 13) {
            if full_parts.len() >= strip_parts.len()
                && full_parts[..strip_parts.len()] == strip_parts[..]
            {
                dfile = Some(join_parts(&full_parts[strip_parts.len()..])?);
            } else {
                warning = Some(format!(
                    "The stripdir path {} is not a valid prefix for source path {}; ignoring",
                    repr(stripdir.as_bytes()),
                    repr(fullname)
                ));
            }
        } else {
            let mut kept = full_parts.clone();
            for (strip, full) in strip_parts.iter().zip(&full_parts) {
                if strip == full
                    && let Some(at) = kept.iter().position(|part| part == strip)
                {
                    kept.remove(at);
                }
            }
            dfile = Some(join_parts(&kept)?);
        }
    }
    if let Some(prependdir) = &prependdir {
        let base = dfile.as_deref().unwrap_or(fullname);
        dfile = Some(posix_join(prependdir.as_bytes(), base));
    }
    Ok(Dfile {
        name: dfile,
        warning,
    })
}

/// The name to compile with: `dfile` or the source path.
pub(crate) fn compiled_name(dfile: &Dfile, candidate: &Candidate) -> OsString {
    OsString::from_vec(
        dfile
            .name
            .clone()
            .unwrap_or_else(|| candidate.path.as_bytes().to_vec()),
    )
}
