//! `pycache interpreters`: every interpreter found, one row per executable (its other names
//! shown as aliases), sorted by implementation then version, the default marked.

use super::Status;
use crate::cli::InterpretersArgs;
use crate::json_path;
use crate::printer::Printer;
use pycache::Interpreter;
use pycache::interpreter::{
    Candidate, DiscoveryOptions, candidates_with_aliases, default_interpreter, discover,
    same_executable,
};
use serde_json::json;
use std::path::PathBuf;

/// The other names of `interpreter`'s executable found while discovering.
fn aliases_of(interpreter: &Interpreter, candidates: &[Candidate]) -> Vec<PathBuf> {
    candidates
        .iter()
        .find(|c| same_executable(&c.path, interpreter.path()))
        .map(|c| c.aliases.clone())
        .unwrap_or_default()
}

/// The distinct file names among `aliases` other than the executable's own, for the table.
fn alias_names(interpreter: &Interpreter, aliases: &[PathBuf]) -> Vec<String> {
    let own = interpreter.path().file_name();
    let mut names: Vec<String> = Vec::new();
    for alias in aliases {
        if let Some(name) = alias.file_name()
            && Some(name) != own
        {
            let name = name.to_string_lossy().into_owned();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

pub(crate) fn run(args: &InterpretersArgs) -> anyhow::Result<Status> {
    let options = DiscoveryOptions::from_env();
    let (found, errors) = discover(&options);
    let default = default_interpreter(&options).ok();
    let candidates = candidates_with_aliases(&options);
    let is_default = |i: &Interpreter| {
        default
            .as_ref()
            .is_some_and(|d| same_executable(d.path(), i.path()))
    };
    let mut printer = Printer::new();
    if args.json {
        let list: Vec<_> = found
            .iter()
            .map(|i| {
                let aliases: Vec<_> = aliases_of(i, &candidates)
                    .iter()
                    .map(json_path::path)
                    .collect();
                json!({
                    "implementation": i.implementation(),
                    "version": i.full_version(),
                    "cache_tag": i.cache_tag(),
                    "magic": i.magic().to_string(),
                    "magic_number": i.magic().number(),
                    "marshal_version": i.marshal_version(),
                    "path": json_path::path(i.path()),
                    "aliases": aliases,
                    "default": is_default(i),
                    "supported": i.is_supported(),
                    "virtualenv": i.is_virtualenv(),
                    "soabi": i.soabi(),
                    "ext_suffix": i.ext_suffix(),
                    "extension_suffixes": i.extension_suffixes(),
                    "pycache_prefix": i.pycache_prefix().map(json_path::path),
                    "source_hash": i.source_hash_algorithm(),
                })
            })
            .collect();
        printer.json(&json!({ "interpreters": list }))?;
    } else {
        for i in &found {
            let mut line = format!(
                "{} {:<8} {:<8} {:<12} {}  {}",
                if is_default(i) { "*" } else { " " },
                i.implementation(),
                i.full_version(),
                i.cache_tag().unwrap_or("-"),
                i.magic(),
                i.path().display()
            );
            let aliases = alias_names(i, &aliases_of(i, &candidates));
            if !aliases.is_empty() {
                line.push_str(&format!("  (also {})", aliases.join(", ")));
            }
            if i.is_virtualenv() {
                line.push_str("  [virtualenv]");
            }
            if !i.is_supported() {
                line.push_str("  [not supported]");
            }
            printer.line(&line)?;
        }
        if default.is_some() {
            printer.line("* the default (used when --python is not given)")?;
        }
    }
    printer.flush()?;
    for error in &errors {
        crate::printer::error_line(&format!("skipped: {error}"));
    }
    Ok(Status::Success)
}
