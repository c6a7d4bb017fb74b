//! `pycache check` and `pycache clean`: freshness gates and cache hygiene, no Python started
//! when the interpreters' probes are cached.

use super::Status;
use super::compile::{interpreters, selection};
use super::reproducible::NotCanonical;
use crate::cli::{CheckArgs, CleanArgs, SelectArgs};
use crate::json_path;
use crate::printer::{Printer, count};
use pycache::Interpreter;
use pycache::hygiene::{
    CleanOptions, Finding, FindingKind, RemovalReport, Scan, ScanOptions, plan_clean, remove, scan,
};
use pycache::python_str::repr;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Scans the selection. `verify_payloads`: read fresh pycs whole to check their payloads
/// (off for `check --reproducible`, which reads and parses every fresh pyc itself).
fn run_scan(
    select: &SelectArgs,
    check: pycache::CheckHashBasedPycs,
    verify_payloads: bool,
) -> anyhow::Result<(Vec<Interpreter>, Scan)> {
    let selection = selection(select)?;
    let interpreters = interpreters(&select.python)?;
    let mut options = ScanOptions::default();
    options.targets = selection.targets;
    options.max_levels = selection.max_levels;
    options.exclude = selection.exclude;
    options.legacy = select.legacy;
    options.levels = selection.levels;
    options.pycache_prefix = selection.pycache_prefix;
    options.check_hash_based_pycs = check;
    options.threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    options.verify_payloads = verify_payloads;
    let result = scan(&interpreters, &options);
    super::report_exclude_failure(options.exclude.as_ref());
    Ok((interpreters, result))
}

fn shown(path: &Path) -> String {
    repr(path.as_os_str().as_bytes())
}

/// A path in JSON, as [`json_path::path`] writes it.
struct JsonPath<'a>(&'a Path);

impl Serialize for JsonPath<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&json_path::fsdecode(self.0.as_os_str().as_bytes()))
    }
}

/// One entry of `check`'s `findings` (docs/json.md).
#[derive(Serialize)]
struct FindingJson<'a> {
    kind: &'static str,
    path: JsonPath<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<JsonPath<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interpreter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
}

impl<'a> FindingJson<'a> {
    fn bare(kind: &'static str, path: &'a Path) -> Self {
        FindingJson {
            kind,
            path: JsonPath(path),
            source: None,
            interpreter: None,
            reason: None,
            detail: None,
            tag: None,
        }
    }

    fn of(finding: &'a Finding, interpreters: &[Interpreter]) -> Self {
        let mut json = FindingJson::bare(finding.kind().as_str(), finding.path());
        match finding {
            Finding::Fresh {
                source,
                interpreter,
                ..
            } => {
                json.source = Some(JsonPath(source));
                json.interpreter = Some(interpreters[*interpreter].display_name());
            }
            Finding::Stale {
                source,
                interpreter,
                reason,
                ..
            } => {
                json.source = Some(JsonPath(source));
                json.interpreter = Some(interpreters[*interpreter].display_name());
                json.reason = Some(reason.keyword().to_owned());
                json.detail = Some(reason.to_string());
            }
            Finding::OtherTag { tag, .. } => json.tag = Some(tag),
            Finding::Unreadable { reason, .. } => {
                json.reason = Some(crate::printer::plain(reason));
            }
            _ => {}
        }
        json
    }

    fn not_canonical(entry: &'a NotCanonical) -> Self {
        match &entry.error {
            None => FindingJson::bare("not-canonical", &entry.pyc),
            Some(error) => FindingJson {
                reason: Some(error.clone()),
                ..FindingJson::bare("bad-code", &entry.pyc)
            },
        }
    }
}

/// One entry of `check`'s `interpreters`.
#[derive(Serialize)]
struct InterpreterJson<'a> {
    interpreter: String,
    path: JsonPath<'a>,
    cache_tag: Option<&'a str>,
    fresh: usize,
    stale: usize,
    missing: usize,
    stale_reasons: BTreeMap<&'static str, usize>,
}

/// `check --json`.
#[derive(Serialize)]
struct CheckJson<'a> {
    ok: bool,
    interpreters: Vec<InterpreterJson<'a>>,
    debris: BTreeMap<&'static str, usize>,
    findings: Vec<FindingJson<'a>>,
    problems: Vec<Value>,
}

/// Interpreter `index`'s pycs by verdict (fresh, stale, missing), and its stale ones by
/// reason.
#[derive(Default)]
struct Tally {
    fresh: usize,
    stale: usize,
    missing: usize,
    reasons: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn of(scan: &Scan, index: usize) -> Self {
        let mut tally = Tally::default();
        for finding in &scan.findings {
            match finding {
                Finding::Fresh { interpreter: i, .. } if *i == index => tally.fresh += 1,
                Finding::Stale {
                    interpreter: i,
                    reason,
                    ..
                } if *i == index => {
                    if finding.kind() == FindingKind::Missing {
                        tally.missing += 1;
                    } else {
                        tally.stale += 1;
                        *tally.reasons.entry(reason.keyword()).or_default() += 1;
                    }
                }
                _ => {}
            }
        }
        tally
    }
}

/// The findings that are neither fresh nor stale, counted by kind.
fn debris(scan: &Scan) -> BTreeMap<&'static str, usize> {
    let mut debris = BTreeMap::new();
    for finding in &scan.findings {
        if !matches!(finding, Finding::Fresh { .. } | Finding::Stale { .. }) {
            *debris.entry(finding.kind().as_str()).or_default() += 1;
        }
    }
    debris
}

/// How many failing entries `check` lists without `-v`.
const SHOWN_WITHOUT_VERBOSE: usize = 20;

/// What `check` found, ready to print.
struct CheckOutcome<'a> {
    args: &'a CheckArgs,
    interpreters: &'a [Interpreter],
    scan: &'a Scan,
    not_canonical: Vec<NotCanonical>,
    failed: bool,
}

impl CheckOutcome<'_> {
    /// A finding that fails the gate.
    fn failing(&self, finding: &Finding) -> bool {
        match finding.kind() {
            FindingKind::Missing => !self.args.missing_ok,
            FindingKind::Stale => true,
            _ => false,
        }
    }
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<Status> {
    let (interpreters, scan) = run_scan(
        &args.select,
        args.check_hash_based_pycs.into(),
        !args.reproducible,
    )?;
    let mut printer = Printer::new();
    let walk_failed = super::report_problems(&mut printer, &scan.problems)?;
    let not_canonical = if args.reproducible {
        let fresh: Vec<&Path> = (scan.findings.iter())
            .filter_map(|f| match f {
                Finding::Fresh { pyc, .. } => Some(pyc.as_path()),
                _ => None,
            })
            .collect();
        super::reproducible::not_canonical(&fresh)
    } else {
        Vec::new()
    };
    let mut outcome = CheckOutcome {
        args,
        interpreters: &interpreters,
        scan: &scan,
        not_canonical,
        failed: false,
    };
    outcome.failed = scan.findings.iter().any(|f| outcome.failing(f))
        || walk_failed
        || !outcome.not_canonical.is_empty();
    if args.json {
        check_json(&mut printer, &outcome)?;
    } else {
        check_text(&mut printer, &outcome)?;
    }
    printer.flush()?;
    Ok(Status::of(!outcome.failed))
}

fn check_json(printer: &mut Printer, outcome: &CheckOutcome<'_>) -> anyhow::Result<()> {
    let scan = outcome.scan;
    // Fresh entries only with -v: a gate's report lists what is wrong.
    let mut findings: Vec<FindingJson<'_>> = (scan.findings.iter())
        .filter(|f| outcome.args.verbose || f.kind() != FindingKind::Fresh)
        .map(|f| FindingJson::of(f, outcome.interpreters))
        .collect();
    findings.extend(outcome.not_canonical.iter().map(FindingJson::not_canonical));
    let interpreters = (outcome.interpreters.iter().enumerate())
        .map(|(index, interpreter)| {
            let tally = Tally::of(scan, index);
            InterpreterJson {
                interpreter: interpreter.display_name(),
                path: JsonPath(interpreter.path()),
                cache_tag: interpreter.cache_tag(),
                fresh: tally.fresh,
                stale: tally.stale,
                missing: tally.missing,
                stale_reasons: tally.reasons,
            }
        })
        .collect();
    let report = CheckJson {
        ok: !outcome.failed,
        interpreters,
        debris: debris(scan),
        findings,
        problems: super::problems_json(&scan.problems),
    };
    printer.json(&serde_json::to_value(&report)?)?;
    Ok(())
}

/// Each kind of debris, as `check` words one and many.
const DEBRIS_LABELS: [(&str, &str, &str); 6] = [
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

/// Per interpreter: sources and their verdicts; then the debris, grouped; then the entries.
fn check_text(printer: &mut Printer, outcome: &CheckOutcome<'_>) -> anyhow::Result<()> {
    for (index, interpreter) in outcome.interpreters.iter().enumerate() {
        let tally = Tally::of(outcome.scan, index);
        let reasons: Vec<String> = (tally.reasons.iter())
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let mut line = format!(
            "{} ({}): pycs: {} fresh, {} stale, {} missing",
            interpreter.display_name(),
            interpreter.cache_tag().unwrap_or("-"),
            tally.fresh,
            tally.stale,
            tally.missing,
        );
        if !reasons.is_empty() {
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
        printer.line(&line)?;
    }
    let debris = debris(outcome.scan);
    for (kind, singular, plural) in DEBRIS_LABELS {
        if let Some(&n) = debris.get(kind) {
            printer.line(&count(n, singular, plural))?;
        }
    }
    if outcome.args.reproducible {
        print_not_canonical(printer, &outcome.not_canonical)?;
    }
    if outcome.args.verbose {
        print_every_finding(printer, outcome)
    } else {
        print_failures(printer, outcome)
    }
}

fn print_not_canonical(
    printer: &mut Printer,
    not_canonical: &[NotCanonical],
) -> anyhow::Result<()> {
    printer.line(&format!(
        "{} fresh pycs not in the canonical (reproducible) form",
        not_canonical.len()
    ))?;
    for n in not_canonical {
        match &n.error {
            None => printer.line(&format!("{:<13} {}", "not-canonical", shown(&n.pyc)))?,
            Some(e) => printer.line(&format!("{:<13} {}: {e}", "bad-code", shown(&n.pyc)))?,
        }
    }
    Ok(())
}

/// `-v`: every finding but the fresh ones, with its detail.
fn print_every_finding(printer: &mut Printer, outcome: &CheckOutcome<'_>) -> anyhow::Result<()> {
    let findings = outcome.scan.findings.iter();
    for finding in findings.filter(|f| f.kind() != FindingKind::Fresh) {
        let detail = match finding {
            Finding::Stale {
                source,
                reason,
                interpreter,
                ..
            } => format!(
                "{} ({}): {}",
                shown(source),
                outcome.interpreters[*interpreter].display_name(),
                reason
            ),
            Finding::OtherTag { pyc, tag } => format!("{} ({tag})", shown(pyc)),
            Finding::Unreadable { path, reason } => format!("{}: {reason}", shown(path)),
            other => shown(other.path()),
        };
        printer.line(&format!("{:<10} {detail}", finding.kind()))?;
    }
    Ok(())
}

/// Without `-v`: the first [`SHOWN_WITHOUT_VERBOSE`] failing sources.
fn print_failures(printer: &mut Printer, outcome: &CheckOutcome<'_>) -> anyhow::Result<()> {
    let failures: Vec<&Finding> = (outcome.scan.findings.iter())
        .filter(|f| outcome.failing(f))
        .collect();
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
                outcome.interpreters[*interpreter].display_name()
            ))?;
        }
    }
    if failures.len() > SHOWN_WITHOUT_VERBOSE {
        printer.line(&format!(
            "... and {} more (-v for all)",
            failures.len() - SHOWN_WITHOUT_VERBOSE
        ))?;
    }
    Ok(())
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
    let mut options = CleanOptions::default();
    options.keep_tags = args.keep_tags.clone();
    options.other_tags = args.other_tags;
    options.legacy = args.remove_legacy;
    options.sourceless = args.sourceless;
    options.all = args.all;
    let plan = plan_clean(&scan, &options);
    let report = remove(&scan, plan, args.dry_run);
    for (path, why) in &report.failed {
        printer.error(&format!("cannot remove {}: {why}", shown(path)))?;
    }
    for (path, why) in &report.skipped {
        printer.warning(&format!("skipped {}: {why}", shown(path)))?;
    }
    let ok = report.failed.is_empty() && !walk_failed;
    if args.json {
        clean_json(&mut printer, args, &scan, &report, ok)?;
    } else {
        clean_text(&mut printer, args, &report)?;
    }
    printer.flush()?;
    Ok(Status::of(ok))
}

/// One entry of `clean`'s `removed`.
#[derive(Serialize)]
struct RemovedJson<'a> {
    path: JsonPath<'a>,
    why: FindingKind,
    bytes: u64,
}

/// One entry of `clean`'s `failed` and `skipped`.
#[derive(Serialize)]
struct PathReasonJson<'a> {
    path: JsonPath<'a>,
    reason: String,
}

/// `clean --json`.
#[derive(Serialize)]
struct CleanJson<'a> {
    ok: bool,
    dry_run: bool,
    removed: Vec<RemovedJson<'a>>,
    removed_dirs: Vec<JsonPath<'a>>,
    failed: Vec<PathReasonJson<'a>>,
    skipped: Vec<PathReasonJson<'a>>,
    bytes: u64,
    problems: Vec<Value>,
}

fn clean_json(
    printer: &mut Printer,
    args: &CleanArgs,
    scan: &Scan,
    report: &RemovalReport,
    ok: bool,
) -> anyhow::Result<()> {
    let removed = (report.removed.iter())
        .map(|r| RemovedJson {
            path: JsonPath(&r.path),
            why: r.why,
            bytes: r.bytes,
        })
        .collect();
    let failed = (report.failed.iter())
        .map(|(p, w)| PathReasonJson {
            path: JsonPath(p),
            reason: crate::printer::plain(w),
        })
        .collect();
    let skipped = (report.skipped.iter())
        .map(|(p, w)| PathReasonJson {
            path: JsonPath(p),
            reason: w.clone(),
        })
        .collect();
    let json = CleanJson {
        ok,
        dry_run: args.dry_run,
        removed,
        removed_dirs: report.removed_dirs.iter().map(|d| JsonPath(d)).collect(),
        failed,
        skipped,
        bytes: report.removed.iter().map(|r| r.bytes).sum(),
        problems: super::problems_json(&scan.problems),
    };
    printer.json(&serde_json::to_value(&json)?)?;
    Ok(())
}

fn clean_text(
    printer: &mut Printer,
    args: &CleanArgs,
    report: &RemovalReport,
) -> anyhow::Result<()> {
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
    let bytes: u64 = report.removed.iter().map(|r| r.bytes).sum();
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
    Ok(())
}
