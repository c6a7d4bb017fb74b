//! `pycache inspect`: what a pyc is, who wrote it, what it belongs to and whether import would
//! use it.

use super::Status;
use crate::cli::InspectArgs;
use crate::printer::Printer;
use pycache::pyc::PycFile;
use pycache::{Freshness, Implementation, Invalidation, KnownMagic, SourceStat, classify_pyc};
use serde::Serialize;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch (proleptic Gregorian calendar).
fn format_utc(seconds: i64) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(time) => time.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        // Out of jiff's range (years -9999 to 9999); a pyc's u32 mtime never is.
        Err(_) => format!("{seconds} s after the epoch"),
    }
}

/// `os.fsdecode` of a path, for JSON (see [`crate::json_path`]).
fn fsdecode(path: &Path) -> String {
    crate::json_path::fsdecode(path.as_os_str().as_bytes())
}

/// One pyc described, as `docs/json.md` says (`inspect --json`'s `pycs`).
#[derive(Debug, Serialize)]
struct PycReport {
    path: String,
    magic: String,
    magic_number: u16,
    /// The writer named by the magic (`CPython 3.12`), when known.
    python: Option<String>,
    header_bytes: usize,
    flags: u32,
    invalidation_mode: &'static str,
    header: HeaderReport,
    payload_bytes: u64,
    payload_is_code: Option<bool>,
    source: Option<String>,
    freshness: FreshnessReport,
}

/// The header's invalidation fields.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum HeaderReport {
    Timestamp {
        mtime: u32,
        mtime_utc: String,
        size: Option<u32>,
    },
    Hash {
        source_hash: String,
    },
}

/// Import's verdict, or why there is none.
#[derive(Debug, Serialize)]
struct FreshnessReport {
    verdict: &'static str,
    /// How a fresh pyc was validated.
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    /// Why it is stale (a keyword) or has no verdict (a sentence).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// A stale pyc's reason in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl FreshnessReport {
    fn without(verdict: &'static str, reason: String) -> Self {
        FreshnessReport {
            verdict,
            by: None,
            reason: Some(reason),
            detail: None,
        }
    }

    fn of(freshness: &Freshness) -> Self {
        match freshness {
            Freshness::Fresh(by) => FreshnessReport {
                verdict: "fresh",
                by: Some(format!("{by:?}").to_lowercase()),
                reason: None,
                detail: None,
            },
            Freshness::Stale(reason) => FreshnessReport {
                verdict: "stale",
                by: None,
                reason: Some(reason.keyword().to_owned()),
                detail: Some(reason.to_string()),
            },
        }
    }
}

/// `CPython 3.12`, `PyPy 3.10 (pre-release magic)`: who wrote a pyc of this magic.
fn writer(known: &KnownMagic) -> String {
    let implementation = match known.implementation {
        Implementation::CPython => "CPython",
        Implementation::PyPy => "PyPy",
    };
    let stage = if known.is_final {
        ""
    } else {
        " (pre-release magic)"
    };
    format!("{implementation} {}{stage}", known.version)
}

fn header_report(invalidation: &Invalidation) -> (&'static str, HeaderReport) {
    match *invalidation {
        Invalidation::Timestamp { mtime, size } => (
            "timestamp",
            HeaderReport::Timestamp {
                mtime,
                mtime_utc: format_utc(i64::from(mtime)),
                size,
            },
        ),
        Invalidation::Hash { checked, hash } => (
            if checked {
                "checked-hash"
            } else {
                "unchecked-hash"
            },
            HeaderReport::Hash {
                source_hash: hex::encode(hash),
            },
        ),
    }
}

/// Whether import would use the pyc `data` beside `source`.
fn freshness(
    pyc: &PycFile,
    data: &[u8],
    source: Option<&Path>,
    args: &InspectArgs,
) -> FreshnessReport {
    let Some(source) = source else {
        return FreshnessReport::without("unknown", "the file name names no source".to_owned());
    };
    let Some(rules) = pyc.import_rules(args.check_hash_based_pycs.into()) else {
        return FreshnessReport::without(
            "unknown",
            "unknown magic: no interpreter to judge by".to_owned(),
        );
    };
    match std::fs::metadata(source) {
        Err(error) => {
            FreshnessReport::without("no-source", format!("{}: {error}", source.display()))
        }
        Ok(metadata) => {
            let stat = SourceStat::from_metadata(&metadata);
            FreshnessReport::of(&classify_pyc(&rules, data, stat, || std::fs::read(source)))
        }
    }
}

fn describe(pyc: &PycFile, data: &[u8], args: &InspectArgs) -> PycReport {
    let header = &pyc.header;
    let (invalidation_mode, details) = header_report(&header.invalidation);
    let source = pyc.source_path();
    PycReport {
        path: fsdecode(&pyc.path),
        magic: header.magic.to_string(),
        magic_number: header.magic.number(),
        python: pyc.known.as_ref().map(writer),
        header_bytes: header.layout.len(),
        flags: header.flags,
        invalidation_mode,
        header: details,
        payload_bytes: pyc.payload_len,
        payload_is_code: pyc.payload_type.map(|t| t & 0x7f == b'c'),
        source: source.as_deref().map(fsdecode),
        freshness: freshness(pyc, data, source.as_deref(), args),
    }
}

fn text(report: &PycReport) -> Vec<String> {
    let lossy = |text: Option<&str>| crate::json_path::lossy(text.unwrap_or("-"));
    let mut lines = vec![format!("{}:", lossy(Some(&report.path)))];
    let python = report.python.as_deref().unwrap_or("unknown Python");
    lines.push(format!(
        "  magic       {} ({}, {python})",
        lossy(Some(&report.magic)),
        report.magic_number
    ));
    lines.push(format!(
        "  header      {} bytes, {} (flags {})",
        report.header_bytes,
        lossy(Some(report.invalidation_mode)),
        report.flags
    ));
    match &report.header {
        HeaderReport::Hash { source_hash } => lines.push(format!("  source hash {source_hash}")),
        HeaderReport::Timestamp {
            mtime,
            mtime_utc,
            size,
        } => {
            lines.push(format!("  mtime       {mtime_utc} ({mtime})"));
            if let Some(size) = size {
                lines.push(format!("  size        {size}"));
            }
        }
    }
    lines.push(format!("  payload     {} bytes", report.payload_bytes));
    lines.push(format!("  source      {}", lossy(report.source.as_deref())));
    let freshness = &report.freshness;
    let detail = freshness.detail.as_ref().or(freshness.reason.as_ref());
    match (freshness.verdict, detail) {
        ("fresh", _) => lines.push(format!(
            "  freshness   fresh (by {})",
            freshness.by.as_deref().unwrap_or("-")
        )),
        (verdict, Some(detail)) => lines.push(format!("  freshness   {verdict}: {detail}")),
        (verdict, None) => lines.push(format!("  freshness   {verdict}")),
    }
    lines
}

/// One entry of `inspect --json`'s `pycs`: a header report, or with `--code` a code tree.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Described {
    Pyc(PycReport),
    Code(super::code::CodeTree),
}

/// A pyc that could not be read, in `inspect --json`'s `errors`.
#[derive(Debug, Serialize)]
struct ReadError {
    path: String,
    reason: String,
}

/// `inspect --json`'s document (the printer adds `version`).
#[derive(Debug, Serialize)]
struct Document {
    ok: bool,
    pycs: Vec<Described>,
    errors: Vec<ReadError>,
}

pub(crate) fn run(args: &InspectArgs) -> anyhow::Result<Status> {
    let mut printer = Printer::new();
    let mut status = Status::Success;
    let mut described = Vec::new();
    let mut errors = Vec::new();
    for path in &args.pycs {
        let path = Path::new(path);
        // --code shows the whole code object; otherwise only the header is read.
        let result = if args.code {
            PycFile::read_whole(path)
        } else {
            PycFile::read_head(path)
        };
        match result {
            Ok((_, data)) if args.code => match super::code::tree(&data) {
                Ok(tree) if args.json => described.push(Described::Code(tree)),
                Ok(tree) => {
                    printer.line_bytes(&[path.as_os_str().as_bytes(), b":"].concat())?;
                    let mut lines = Vec::new();
                    super::code::text(&tree, 1, &mut lines);
                    for line in lines {
                        printer.line(&line)?;
                    }
                }
                Err(error) => {
                    printer.error(&format!("{}: bad code object: {error}", path.display()))?;
                    status = Status::Failure;
                }
            },
            Ok((pyc, data)) => {
                let report = describe(&pyc, &data, args);
                if args.json {
                    described.push(Described::Pyc(report));
                } else {
                    for line in text(&report) {
                        printer.line(&line)?;
                    }
                }
            }
            Err(error) => {
                if args.json {
                    errors.push(ReadError {
                        path: fsdecode(path),
                        reason: crate::printer::plain(&error.to_string()),
                    });
                }
                printer.error(&error.to_string())?;
                status = Status::Failure;
            }
        }
    }
    if args.json {
        let document = Document {
            ok: status == Status::Success,
            pycs: described,
            errors,
        };
        printer.json(&serde_json::to_value(document)?)?;
    }
    printer.flush()?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(super::format_utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(super::format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            super::format_utc(i64::from(u32::MAX)),
            "2106-02-07 06:28:15 UTC"
        );
    }
}
