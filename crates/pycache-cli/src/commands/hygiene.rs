//! `pycache check` and `pycache clean`: freshness gates and cache hygiene, no Python started
//! when the interpreters' probes are cached.

use super::Status;
use super::compile::{interpreters, selection};
use crate::cli::{CheckArgs, CleanArgs, SelectArgs};
use crate::printer::Printer;
use pycache::Interpreter;
use pycache::hygiene::{CleanOptions, Finding, Scan, ScanOptions, plan_clean, remove, scan};
use pycache::python_str::repr;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;

fn run_scan(
    select: &SelectArgs,
    check: pycache::CheckHashBasedPycs,
) -> anyhow::Result<(Vec<Interpreter>, Scan)> {
    let selection = selection(select)?;
    let interpreters = interpreters(&select.python, select.legacy)?;
    let options = ScanOptions {
        targets: selection.targets,
        max_levels: selection.max_levels,
        exclude: selection.exclude,
        legacy: select.legacy,
        levels: selection.levels,
        pycache_prefix: selection.pycache_prefix,
        check_hash_based_pycs: check,
        threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    };
    let result = scan(&interpreters, &options);
    Ok((interpreters, result))
}

fn shown(path: &std::path::Path) -> String {
    repr(path.as_os_str().as_bytes())
}

fn finding_json(finding: &Finding, interpreters: &[Interpreter]) -> Value {
    let mut value = json!({"kind": finding.kind(), "path": finding.path().to_string_lossy()});
    match finding {
        Finding::Fresh {
            source,
            interpreter,
            ..
        } => {
            value["source"] = json!(source.to_string_lossy());
            value["interpreter"] = json!(interpreters[*interpreter].display_name());
        }
        Finding::Stale {
            source,
            interpreter,
            reason,
            ..
        } => {
            value["source"] = json!(source.to_string_lossy());
            value["interpreter"] = json!(interpreters[*interpreter].display_name());
            value["reason"] = json!(reason.keyword());
            value["detail"] = json!(reason.to_string());
        }
        Finding::OtherTag { tag, .. } => value["tag"] = json!(tag),
        Finding::Unreadable { reason, .. } => value["reason"] = json!(reason),
        _ => {}
    }
    value
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<Status> {
    let (interpreters, scan) = run_scan(&args.select, args.check_hash_based_pycs.into())?;
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
    let failed = scan.findings.iter().any(failing) || walk_failed;
    if args.json {
        let findings: Vec<Value> = scan
            .findings
            .iter()
            .map(|f| finding_json(f, &interpreters))
            .collect();
        printer.json(&json!({
            "ok": !failed,
            "findings": findings,
            "problems": super::problems_json(&scan.problems),
        }))?;
    } else {
        // Per interpreter: sources and their verdicts; then the debris, grouped.
        for (index, interpreter) in interpreters.iter().enumerate() {
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
                        *counts.entry(finding.kind()).or_default() += 1;
                        if finding.kind() == "stale" {
                            *reasons.entry(reason.keyword()).or_default() += 1;
                        }
                    }
                    _ => {}
                }
            }
            let reasons: Vec<String> = reasons.iter().map(|(k, v)| format!("{v} {k}")).collect();
            let mut line = format!(
                "{} ({}): {} fresh, {} stale, {} missing",
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
                *debris.entry(finding.kind()).or_default() += 1;
            }
        }
        let labels = [
            ("orphan", "orphans (pycs whose source is gone)"),
            ("legacy", "legacy pycs beside their source"),
            (
                "sourceless",
                "sourceless legacy pycs (importable on their own)",
            ),
            ("other-tag", "pycs of tags no selected interpreter has"),
            ("temp", "leftover temporary files"),
            ("unreadable", "unreadable pycs"),
        ];
        for (kind, label) in labels {
            if let Some(n) = debris.get(kind) {
                printer.line(&format!("{n} {label}"))?;
            }
        }
        if args.verbose {
            for finding in scan.findings.iter().filter(|f| f.kind() != "fresh") {
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
            for finding in scan.findings.iter().filter(|f| failing(f)) {
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
    let (_, scan) = run_scan(&args.select, pycache::CheckHashBasedPycs::Default)?;
    let mut printer = Printer::new();
    let walk_failed = super::report_problems(&mut printer, &scan.problems)?;
    let options = CleanOptions {
        keep_tags: args.tags.clone(),
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
            .map(|r| json!({"path": r.path.to_string_lossy(), "why": r.why, "bytes": r.bytes}))
            .collect();
        let dirs: Vec<String> = report
            .removed_dirs
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let failed: Vec<Value> = report
            .failed
            .iter()
            .map(|(p, w)| json!({"path": p.to_string_lossy(), "error": w}))
            .collect();
        let skipped: Vec<Value> = report
            .skipped
            .iter()
            .map(|(p, w)| json!({"path": p.to_string_lossy(), "reason": w}))
            .collect();
        printer.json(&json!({"dry_run": args.dry_run, "removed": removed, "removed_dirs": dirs, "failed": failed, "skipped": skipped, "bytes": bytes}))?;
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
            *by_kind.entry(removal.why).or_default() += 1;
        }
        let kinds: Vec<String> = by_kind.iter().map(|(k, v)| format!("{v} {k}")).collect();
        printer.line(&format!(
            "{verb} {} files ({}){}; {} empty __pycache__ directories",
            report.removed.len(),
            human_bytes(bytes),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(": {}", kinds.join(", "))
            },
            report.removed_dirs.len()
        ))?;
    }
    printer.flush()?;
    Ok(Status::of(report.failed.is_empty() && !walk_failed))
}
