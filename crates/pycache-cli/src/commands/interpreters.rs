//! `pycache interpreters`: every interpreter found, with what its cache scheme needs.

use super::Status;
use crate::cli::InterpretersArgs;
use crate::printer::Printer;
use pycache::interpreter::{DiscoveryOptions, discover};
use serde_json::json;

pub(crate) fn run(args: &InterpretersArgs) -> anyhow::Result<Status> {
    let (found, errors) = discover(&DiscoveryOptions::from_env());
    let mut printer = Printer::new();
    if args.json {
        let list: Vec<_> = found
            .iter()
            .map(|i| {
                json!({
                    "implementation": i.implementation(),
                    "version": i.full_version(),
                    "cache_tag": i.cache_tag(),
                    "magic": i.magic().to_string(),
                    "magic_number": i.magic().number(),
                    "marshal_version": i.marshal_version(),
                    "path": i.path().to_string_lossy(),
                    "virtualenv": i.is_virtualenv(),
                    "soabi": i.soabi(),
                    "ext_suffix": i.ext_suffix(),
                    "extension_suffixes": i.extension_suffixes(),
                    "pycache_prefix": i.pycache_prefix().map(|p| p.to_string_lossy().into_owned()),
                    "source_hash": i.source_hash_algorithm(),
                })
            })
            .collect();
        printer.json(&json!(list))?;
    } else {
        for i in &found {
            let line = format!(
                "{:<8} {:<8} {:<12} {}  {}",
                i.implementation(),
                i.full_version(),
                i.cache_tag().unwrap_or("-"),
                i.magic(),
                i.path().display()
            );
            printer.line(&line)?;
        }
    }
    printer.flush()?;
    for error in &errors {
        crate::printer::error_line(&format!("skipped: {error}"));
    }
    Ok(Status::Success)
}
