//! `pycache cache info|prune|clear`: the local cache of compiled code.

use super::Status;
use crate::cli::{CacheCommand, CacheDirArgs};
use crate::printer::Printer;
use anyhow::Context;
use indicatif::BinaryBytes;
use pycache::cache::{LocalCache, PruneReport, RunStats, recent_runs};
use serde::Serialize;
use std::os::unix::ffi::OsStrExt;

/// How many recent runs `info` sums up.
const RECENT: usize = 20;

pub(crate) fn run(command: &CacheCommand) -> anyhow::Result<Status> {
    match command {
        CacheCommand::Info(args) => info(&open(&args.dir)?, args.json),
        CacheCommand::Prune(args) => {
            let cache = open(&args.dir)?;
            let report = cache
                .prune(args.max_size.as_u64())
                .with_context(|| format!("pruning {}", cache.dir().display()))?;
            print_removal(&cache, &report)
        }
        CacheCommand::Clear(args) => {
            let cache = open(args)?;
            let report = cache
                .clear()
                .with_context(|| format!("clearing {}", cache.dir().display()))?;
            print_removal(&cache, &report)
        }
    }
}

fn open(args: &CacheDirArgs) -> anyhow::Result<LocalCache> {
    let dir = match &args.cache_dir {
        Some(dir) => dir.into(),
        None => pycache::cache::default_dir()
            .context("no cache directory: set PYCACHE_CACHE_DIR, XDG_CACHE_HOME or HOME")?,
    };
    Ok(LocalCache::new(dir))
}

/// `cache info --json`'s document.
#[derive(Serialize)]
struct InfoDocument<'a> {
    version: u32,
    ok: bool,
    dir: String,
    entries: u64,
    bytes: u64,
    max_bytes: u64,
    recent_runs: &'a [RunStats],
}

fn info(cache: &LocalCache, as_json: bool) -> anyhow::Result<Status> {
    let dir = cache.dir();
    let usage = cache
        .usage()
        .with_context(|| format!("reading {}", dir.display()))?;
    let runs = recent_runs(dir, RECENT).with_context(|| format!("reading {}", dir.display()))?;
    let hits: u64 = runs.iter().map(|r| r.hits + r.remote_hits).sum();
    let lookups: u64 = hits + runs.iter().map(|r| r.misses).sum::<u64>();
    let mut printer = Printer::new();
    if as_json {
        let document = InfoDocument {
            version: 1,
            ok: true,
            dir: crate::json_path::fsdecode(dir.as_os_str().as_bytes()),
            entries: usage.entries,
            bytes: usage.bytes,
            max_bytes: pycache::cache::DEFAULT_MAX_SIZE,
            recent_runs: &runs,
        };
        printer.json(&serde_json::to_value(document)?)?;
    } else {
        printer.line(&format!("cache        {}", dir.display()))?;
        printer.line(&format!(
            "size         {} in {} (cap {})",
            BinaryBytes(usage.bytes),
            plural(usage.entries, "entry", "entries"),
            BinaryBytes(pycache::cache::DEFAULT_MAX_SIZE)
        ))?;
        let ratio = if lookups == 0 {
            "no lookups yet".to_owned()
        } else {
            format!(
                "{:.0}% ({hits} of {lookups} lookups)",
                100.0 * hits as f64 / lookups as f64
            )
        };
        printer.line(&format!(
            "hit ratio    {ratio} over the last {}",
            plural(runs.len() as u64, "run", "runs")
        ))?;
    }
    printer.flush()?;
    Ok(Status::Success)
}

fn print_removal(cache: &LocalCache, report: &PruneReport) -> anyhow::Result<Status> {
    let mut printer = Printer::new();
    printer.line(&format!(
        "{}: removed {} ({}), {} left ({})",
        cache.dir().display(),
        plural(report.removed, "entry", "entries"),
        BinaryBytes(report.freed),
        plural(report.left.entries, "entry", "entries"),
        BinaryBytes(report.left.bytes)
    ))?;
    printer.flush()?;
    Ok(Status::Success)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    crate::printer::count(usize::try_from(n).unwrap_or(usize::MAX), one, many)
}
