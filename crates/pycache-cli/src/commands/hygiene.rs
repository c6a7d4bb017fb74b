//! `pycache check` and `pycache clean`: freshness gates and cache hygiene, no Python started
//! when the interpreters' probes are cached.

use super::Status;
use super::compile::{interpreters, selection};
use crate::cli::{CheckArgs, CleanArgs, SelectArgs};
use crate::json_path;
use crate::printer::{Printer, count};
use pycache::Interpreter;
use pycache::hygiene::{
    CleanOptions, Finding, FindingKind, Scan, ScanOptions, plan_clean, remove, scan,
};
use pycache::python_str::repr;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;

/// Scans the selection. `verify_payloads`: read fresh pycs whole to check their payloads
/// (off for `check --reproducible`, which reads and parses every fresh pyc itself).
fn run_scan(
    select: &SelectArgs,
    check: pycache::CheckHashBasedPycs,
    verify_payloads: bool,
) -> anyhow::Result<(Vec<Interpreter>, Scan)> {
    let selection = selection(select)?;
    let interpreters = interpreters(&select.python)?;
    let options = ScanOptions {
        targets: selection.targets,
        max_levels: selection.max_levels,
        exclude: selection.exclude,
        legacy: select.legacy,
        levels: selection.levels,
        pycache_prefix: selection.pycache_prefix,
        check_hash_based_pycs: check,
        threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        verify_payloads,
    };
    let result = scan(&interpreters, &options);
    super::report_exclude_failure(options.exclude.as_ref());
    Ok((interpreters, result))
}

fn shown(path: &std::path::Path) -> String {
    repr(path.as_os_str().as_bytes())
}

fn finding_json(finding: &Finding, interpreters: &[Interpreter]) -> Value {
    let mut value =
        json!({"kind": finding.kind().as_str(), "path": json_path::path(finding.path())});
    match finding {
        Finding::Fresh {
            source,
            interpreter,
            ..
        } => {
            value["source"] = json_path::path(source);
            value["interpreter"] = json!(interpreters[*interpreter].display_name());
        }
        Finding::Stale {
            source,
            interpreter,
            reason,
            ..
        } => {
            value["source"] = json_path::path(source);
            value["interpreter"] = json!(interpreters[*interpreter].display_name());
            value["reason"] = json!(reason.keyword());
            value["detail"] = json!(reason.to_string());
        }
        Finding::OtherTag { tag, .. } => value["tag"] = json!(tag),
        Finding::Unreadable { reason, .. } => {
            value["reason"] = json!(crate::printer::plain(reason))
        }
        _ => {}
    }
    value
}

/// Interpreter `index`'s pycs by verdict (`fresh`, `stale`, `missing`), and its stale ones by
/// reason.
fn tally(
    scan: &Scan,
    index: usize,
) -> (BTreeMap<&'static str, usize>, BTreeMap<&'static str, usize>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in &scan.findings {
        match finding {
            Finding::Fresh { interpreter: i, .. } if *i == index => {
                *counts.entry("fresh").or_default() += 1
            }
            Finding::Stale {
                interpreter: i,
                reason,
                ..
            } if *i == index => {
                *counts.entry(finding.kind().as_str()).or_default() += 1;
                if finding.kind() == FindingKind::Stale {
                    *reasons.entry(reason.keyword()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    (counts, reasons)
}

/// How many failing entries `check` lists without `-v`.
const SHOWN_WITHOUT_VERBOSE: usize = 20;

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<Status> {
    let (interpreters, scan) = run_scan(
        &args.select,
        args.check_hash_based_pycs.into(),
        !args.reproducible,
    )?;
    let mut printer = Printer::new();
    let walk_failed = super::report_problems(&mut printer, &scan.problems)?;
    let failing = |f: &Finding| match f {
        Finding::Stale {
            reason: pycache::StaleReason::Missing,
            ..
        } => !args.missing_ok,
        Finding::Stale { .. } => true,
        _ => false,
    };
    let not_canonical = if args.reproducible {
        let fresh: Vec<&std::path::Path> = (scan.findings.iter())
            .filter_map(|f| match f {
                Finding::Fresh { pyc, .. } => Some(pyc.as_path()),
                _ => None,
            })
            .collect();
        super::reproducible::not_canonical(&fresh)
    } else {
        Vec::new()
    };
    let failed = scan.findings.iter().any(failing) || walk_failed || !not_canonical.is_empty();
    if args.json {
        // Fresh entries only with -v: a gate's report lists what is wrong.
        let mut findings: Vec<Value> = scan
            .findings
            .iter()
            .filter(|f| args.verbose || f.kind() != FindingKind::Fresh)
            .map(|f| finding_json(f, &interpreters))
            .collect();
        let per: Vec<Value> = interpreters
            .iter()
            .enumerate()
            .map(|(index, interpreter)| {
                let (counts, reasons) = tally(&scan, index);
                let count = |kind: &str| counts.get(kind).copied().unwrap_or(0);
                json!({
                    "interpreter": interpreter.display_name(),
                    "path": crate::json_path::path(interpreter.path()),
                    "cache_tag": interpreter.cache_tag(),
                    "fresh": count("fresh"),
                    "stale": count("stale"),
                    "missing": count("missing"),
                    "stale_reasons": reasons,
                })
            })
            .collect();
        let mut debris: BTreeMap<&str, usize> = BTreeMap::new();
        for finding in &scan.findings {
            if !matches!(finding, Finding::Fresh { .. } | Finding::Stale { .. }) {
                *debris.entry(finding.kind().as_str()).or_default() += 1;
            }
        }
        findings.extend(not_canonical.iter().map(|n| match &n.error {
            None => json!({"kind": "not-canonical", "path": crate::json_path::path(&n.pyc)}),
            Some(e) => {
                json!({"kind": "bad-code", "path": crate::json_path::path(&n.pyc), "reason": e})
            }
        }));
        printer.json(&json!({
            "ok": !failed,
            "interpreters": per,
            "debris": debris,
            "findings": findings,
            "problems": super::problems_json(&scan.problems),
        }))?;
    } else {
        // Per interpreter: sources and their verdicts; then the debris, grouped.
        for (index, interpreter) in interpreters.iter().enumerate() {
            let (counts, reasons) = tally(&scan, index);
            let reasons: Vec<String> = reasons.iter().map(|(k, v)| format!("{v} {k}")).collect();
            let mut line = format!(
                "{} ({}): pycs: {} fresh, {} stale, {} missing",
                interpreter.display_name(),
                interpreter.cache_tag().unwrap_or("-"),
                counts.get("fresh").copied().unwrap_or(0),
                counts.get("stale").copied().unwrap_or(0),
                counts.get("missing").copied().unwrap_or(0),
            );
            if !reasons.is_empty() {
                line.push_str(&format!(" ({})", reasons.join(", ")));
            }
            printer.line(&line)?;
        }
        let mut debris: BTreeMap<&str, usize> = BTreeMap::new();
        for finding in &scan.findings {
            if !matches!(finding, Finding::Fresh { .. } | Finding::Stale { .. }) {
                *debris.entry(finding.kind().as_str()).or_default() += 1;
            }
        }
        let labels = [
            (
                "orphan",
                "orphan (a pyc whose source is gone)",
                "orphans (pycs whose source is gone)",
            ),
            (
                "legacy",
                "legacy pyc beside its source",
                "legacy pycs beside their source",
            ),
            (
                "sourceless",
                "sourceless legacy pyc (importable on its own)",
                "sourceless legacy pycs (importable on their own)",
            ),
            (
                "other-tag",
                "pyc of a tag no selected interpreter has",
                "pycs of tags no selected interpreter has",
            ),
            (
                "temp",
                "leftover temporary file",
                "leftover temporary files",
            ),
            ("unreadable", "unreadable pyc", "unreadable pycs"),
        ];
        for (kind, singular, plural) in labels {
            if let Some(&n) = debris.get(kind) {
                printer.line(&count(n, singular, plural))?;
            }
        }
        if args.reproducible {
            printer.line(&format!(
                "{} fresh pycs not in the canonical (reproducible) form",
                not_canonical.len()
            ))?;
            for n in &not_canonical {
                match &n.error {
                    None => printer.line(&format!("{:<13} {}", "not-canonical", shown(&n.pyc)))?,
                    Some(e) => {
                        printer.line(&format!("{:<13} {}: {e}", "bad-code", shown(&n.pyc)))?
                    }
                }
            }
        }
        if args.verbose {
            for finding in scan
                .findings
                .iter()
                .filter(|f| f.kind() != FindingKind::Fresh)
            {
                let detail = match finding {
                    Finding::Stale {
                        source,
                        reason,
                        interpreter,
                        ..
                    } => format!(
                        "{} ({}): {}",
                        shown(source),
                        interpreters[*interpreter].display_name(),
                        reason
                    ),
                    Finding::OtherTag { pyc, tag } => format!("{} ({tag})", shown(pyc)),
                    Finding::Unreadable { path, reason } => format!("{}: {reason}", shown(path)),
                    other => shown(other.path()),
                };
                printer.line(&format!("{:<10} {detail}", finding.kind()))?;
            }
        } else {
            let failures: Vec<&Finding> = scan.findings.iter().filter(|f| failing(f)).collect();
            for finding in failures.iter().take(SHOWN_WITHOUT_VERBOSE) {
                if let Finding::Stale {
                    source,
                    reason,
                    interpreter,
                    ..
                } = finding
                {
                    printer.line(&format!(
                        "{:<10} {} ({}): {reason}",
                        finding.kind(),
                        shown(source),
                        interpreters[*interpreter].display_name()
                    ))?;
                }
            }
            if failures.len() > SHOWN_WITHOUT_VERBOSE {
                printer.line(&format!(
                    "... and {} more (-v for all)",
                    failures.len() - SHOWN_WITHOUT_VERBOSE
                ))?;
            }
        }
    }
    printer.flush()?;
    Ok(Status::of(!failed))
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

pub(crate) fn clean(args: &CleanArgs) -> anyhow::Result<Status> {
    if args.select.targets.is_empty() && args.select.input_list.is_none() {
        return Err(crate::UsageError(
            "clean needs at least one FILE|DIR (it never cleans sys.path on its own)".to_owned(),
        )
        .into());
    }
    let (_, scan) = run_scan(&args.select, pycache::CheckHashBasedPycs::Default, true)?;
    let mut printer = Printer::new();
    let walk_failed = super::report_problems(&mut printer, &scan.problems)?;
    let options = CleanOptions {
        keep_tags: args.keep_tags.clone(),
        other_tags: args.other_tags,
        legacy: args.remove_legacy,
        sourceless: args.sourceless,
        all: args.all,
    };
    let plan = plan_clean(&scan, &options);
    let report = remove(&scan, plan, args.dry_run);
    for (path, why) in &report.failed {
        printer.error(&format!("cannot remove {}: {why}", shown(path)))?;
    }
    for (path, why) in &report.skipped {
        printer.warning(&format!("skipped {}: {why}", shown(path)))?;
    }
    let bytes: u64 = report.removed.iter().map(|r| r.bytes).sum();
    if args.json {
        let removed: Vec<Value> = report
            .removed
            .iter()
            .map(|r| json!({"path": json_path::path(&r.path), "why": r.why, "bytes": r.bytes}))
            .collect();
        let dirs: Vec<Value> = report.removed_dirs.iter().map(json_path::path).collect();
        let failed: Vec<Value> = report
            .failed
            .iter()
            .map(|(p, w)| json!({"path": json_path::path(p), "reason": crate::printer::plain(w)}))
            .collect();
        let skipped: Vec<Value> = report
            .skipped
            .iter()
            .map(|(p, w)| json!({"path": crate::json_path::path(p), "reason": w}))
            .collect();
        printer.json(&json!({
            "ok": report.failed.is_empty() && !walk_failed,
            "dry_run": args.dry_run,
            "removed": removed,
            "removed_dirs": dirs,
            "failed": failed,
            "skipped": skipped,
            "bytes": bytes,
            "problems": super::problems_json(&scan.problems),
        }))?;
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        if args.verbose || args.dry_run {
            for removal in &report.removed {
                printer.line(&format!(
                    "{verb} {:<10} {}",
                    removal.why,
                    shown(&removal.path)
                ))?;
            }
            for dir in &report.removed_dirs {
                printer.line(&format!("{verb} {:<10} {}", "empty-dir", shown(dir)))?;
            }
        }
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for removal in &report.removed {
            *by_kind.entry(removal.why.as_str()).or_default() += 1;
        }
        let kinds: Vec<String> = by_kind.iter().map(|(k, v)| format!("{v} {k}")).collect();
        printer.line(&format!(
            "{verb} {} ({}){}; {}",
            count(report.removed.len(), "file", "files"),
            human_bytes(bytes),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(": {}", kinds.join(", "))
            },
            count(
                report.removed_dirs.len(),
                "empty __pycache__ directory",
                "empty __pycache__ directories"
            )
        ))?;
    }
    printer.flush()?;
    Ok(Status::of(report.failed.is_empty() && !walk_failed))
}
