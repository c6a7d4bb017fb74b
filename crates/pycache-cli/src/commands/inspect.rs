//! `pycache inspect`: what a pyc is, who wrote it, what it belongs to and whether import would
//! use it.

use super::Status;
use crate::cli::InspectArgs;
use crate::printer::Printer;
use pycache::pyc::PycFile;
use pycache::{Freshness, Implementation, Invalidation, SourceStat, StaleReason, classify_pyc};
use serde_json::{Value, json};
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

fn describe(pyc: &PycFile, data: &[u8], args: &InspectArgs) -> Value {
    let header = &pyc.header;
    let writer = pyc.known.map(|k| {
        let implementation = match k.implementation {
            Implementation::CPython => "CPython",
            Implementation::PyPy => "PyPy",
        };
        let stage = if k.is_final {
            ""
        } else {
            " (pre-release magic)"
        };
        format!("{implementation} {}{stage}", k.version)
    });
    let (mode, details) = match header.invalidation {
        Invalidation::Timestamp { mtime, size } => (
            "timestamp",
            json!({"mtime": mtime, "mtime_utc": format_utc(i64::from(mtime)), "size": size}),
        ),
        Invalidation::Hash { checked, hash } => (
            if checked {
                "checked-hash"
            } else {
                "unchecked-hash"
            },
            json!({"source_hash": hex::encode(hash)}),
        ),
    };
    let source = pyc.source_path();
    let freshness = match (&source, pyc.import_rules(args.check_hash_based_pycs.into())) {
        (None, _) => json!({"verdict": "unknown", "reason": "the file name names no source"}),
        (_, None) => {
            json!({"verdict": "unknown", "reason": "unknown magic: no interpreter to judge by"})
        }
        (Some(source), Some(rules)) => match std::fs::metadata(source) {
            Err(error) => {
                json!({"verdict": "no-source", "reason": format!("{}: {error}", source.display())})
            }
            Ok(metadata) => {
                let stat = SourceStat::from_metadata(&metadata);
                match classify_pyc(&rules, data, stat, || std::fs::read(source)) {
                    Freshness::Fresh(by) => {
                        json!({"verdict": "fresh", "by": format!("{by:?}").to_lowercase()})
                    }
                    Freshness::Stale(reason) => stale_json(&reason),
                }
            }
        },
    };
    json!({
        "path": crate::json_path::path(&pyc.path),
        "magic": header.magic.to_string(),
        "magic_number": header.magic.number(),
        "python": writer,
        "header_bytes": header.layout.len(),
        "flags": header.flags,
        "invalidation_mode": mode,
        "header": details,
        "payload_bytes": pyc.payload_len,
        "payload_is_code": pyc.payload_type.map(|t| t & 0x7f == b'c'),
        "source": source.as_deref().map(crate::json_path::path),
        "freshness": freshness,
    })
}

fn stale_json(reason: &StaleReason) -> Value {
    json!({"verdict": "stale", "reason": reason.keyword(), "detail": reason.to_string()})
}

fn text(value: &Value) -> Vec<String> {
    let field = |name: &str| crate::json_path::lossy(value[name].as_str().unwrap_or("-"));
    let mut lines = vec![format!("{}:", field("path"))];
    let python = value["python"].as_str().unwrap_or("unknown Python");
    lines.push(format!(
        "  magic       {} ({}, {python})",
        field("magic"),
        value["magic_number"]
    ));
    lines.push(format!(
        "  header      {} bytes, {} (flags {})",
        value["header_bytes"],
        field("invalidation_mode"),
        value["flags"]
    ));
    let header = &value["header"];
    if let Some(hash) = header["source_hash"].as_str() {
        lines.push(format!("  source hash {hash}"));
    } else {
        lines.push(format!(
            "  mtime       {} ({})",
            header["mtime_utc"].as_str().unwrap_or("-"),
            header["mtime"]
        ));
        if !header["size"].is_null() {
            lines.push(format!("  size        {}", header["size"]));
        }
    }
    lines.push(format!("  payload     {} bytes", value["payload_bytes"]));
    lines.push(format!("  source      {}", field("source")));
    let freshness = &value["freshness"];
    let verdict = freshness["verdict"].as_str().unwrap_or("-");
    let detail = freshness["detail"]
        .as_str()
        .or(freshness["reason"].as_str());
    match (verdict, detail) {
        ("fresh", _) => lines.push(format!(
            "  freshness   fresh (by {})",
            freshness["by"].as_str().unwrap_or("-")
        )),
        (verdict, Some(detail)) => lines.push(format!("  freshness   {verdict}: {detail}")),
        (verdict, None) => lines.push(format!("  freshness   {verdict}")),
    }
    lines
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
                Ok(tree) if args.json => described.push(tree),
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
                let value = describe(&pyc, &data, args);
                if args.json {
                    described.push(value);
                } else {
                    for line in text(&value) {
                        printer.line(&line)?;
                    }
                }
            }
            Err(error) => {
                if args.json {
                    errors.push(serde_json::json!({
                        "path": crate::json_path::path(path),
                        "reason": crate::printer::plain(&error.to_string()),
                    }));
                }
                printer.error(&error.to_string())?;
                status = Status::Failure;
            }
        }
    }
    if args.json {
        printer.json(&serde_json::json!({
            "ok": status == Status::Success,
            "pycs": described,
            "errors": errors,
        }))?;
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
