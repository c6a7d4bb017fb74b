//! `pycache tag`, `pycache path` and `pycache source`: the cache scheme of an interpreter.

use super::{Status, resolve_interpreters};
use crate::cli::{PathArgs, SchemeArgs, SourceArgs, TagArgs};
use crate::printer::Printer;
use pycache::{CachePathError, CacheScheme, legacy_cache_from_source, python_str};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub(crate) fn tag(args: &TagArgs) -> anyhow::Result<Status> {
    let mut printer = Printer::new();
    let mut status = Status::Success;
    for interpreter in resolve_interpreters(args.python.as_deref())? {
        match interpreter.cache_tag() {
            Some(tag) => printer.line(tag)?,
            None => {
                printer.error(&format!(
                    "{}: sys.implementation.cache_tag is None (no __pycache__ for this interpreter)",
                    interpreter.path().display()
                ))?;
                status = Status::Failure;
            }
        }
    }
    printer.flush()?;
    Ok(status)
}

/// The schemes to answer with, each with a label when there are several: one per interpreter,
/// or the one of `--tag`.
fn schemes(args: &SchemeArgs) -> anyhow::Result<Vec<(String, CacheScheme)>> {
    let mut schemes: Vec<(String, CacheScheme)> = match &args.tag {
        Some(tag) => {
            let env_prefix = std::env::var_os("PYTHONPYCACHEPREFIX");
            vec![(
                tag.clone(),
                CacheScheme::from_tag(tag).with_pycache_prefix(env_prefix),
            )]
        }
        None => resolve_interpreters(args.python.as_deref())?
            .iter()
            .map(|i| (i.display_name(), i.cache_scheme()))
            .collect(),
    };
    if let Some(prefix) = &args.pycache_prefix {
        for (_, scheme) in &mut schemes {
            *scheme = scheme.clone().with_pycache_prefix(Some(prefix.clone()));
        }
    }
    if schemes.len() == 1 {
        schemes[0].0.clear();
    }
    Ok(schemes)
}

fn answer(
    inputs: &[OsString],
    schemes: &[(String, CacheScheme)],
    compute: impl Fn(&CacheScheme, &OsString) -> Result<OsString, CachePathError>,
) -> anyhow::Result<Status> {
    let mut printer = Printer::new();
    let mut status = Status::Success;
    for (label, scheme) in schemes {
        let prefix = if label.is_empty() {
            String::new()
        } else {
            format!("{label}: ")
        };
        for input in inputs {
            match compute(scheme, input) {
                Ok(path) => printer.line_bytes(&[prefix.as_bytes(), path.as_bytes()].concat())?,
                Err(error) => {
                    printer.error(&format!(
                        "{prefix}{}: {}: {error}",
                        python_str::repr(input.as_bytes()),
                        error.python_exception()
                    ))?;
                    status = Status::Failure;
                }
            }
        }
    }
    printer.flush()?;
    Ok(status)
}

pub(crate) fn path(args: &PathArgs) -> anyhow::Result<Status> {
    let schemes = schemes(&args.scheme)?;
    answer(&args.sources, &schemes, |scheme, source| {
        if args.legacy {
            Ok(legacy_cache_from_source(source))
        } else {
            scheme.cache_from_source(source, args.optimization.as_deref())
        }
    })
}

pub(crate) fn source(args: &SourceArgs) -> anyhow::Result<Status> {
    let schemes = schemes(&args.scheme)?;
    answer(&args.pycs, &schemes, |scheme, pyc| {
        scheme.source_from_cache(pyc)
    })
}
