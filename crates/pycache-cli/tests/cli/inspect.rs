//! `pycache inspect` on pycs that each interpreter's `py_compile` wrote.

use crate::assert_success;
use crate::{interpreter_paths, pycache, python_output};
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn inspect_json(pyc: &Path) -> Value {
    let output = pycache()
        .arg("inspect")
        .arg("--json")
        .arg(pyc)
        .output()
        .unwrap();
    assert_success(&output);
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    list["pycs"][0].clone()
}

const COMPILE: &str = "import sys, py_compile, importlib.util as u\n\
kw = {} if len(sys.argv) < 3 else {'invalidation_mode': getattr(py_compile.PycInvalidationMode, sys.argv[2])}\n\
print(py_compile.compile(sys.argv[1], doraise=True, **kw))\n\
print(u.MAGIC_NUMBER.hex() if hasattr(bytes, 'hex') else '')";

#[test]
fn inspect_describes_what_py_compile_wrote() {
    for (version, python) in interpreter_paths() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("mod.py");
        std::fs::write(&source, "x = 1\n").unwrap();
        let out = python_output(
            &python,
            &[OsStr::new("-c"), OsStr::new(COMPILE), source.as_os_str()],
        );
        let out = String::from_utf8(out).unwrap();
        let mut lines = out.lines();
        let pyc = Path::new(lines.next().unwrap()).to_owned();
        let magic = lines.next().unwrap();
        let info = inspect_json(&pyc);
        assert_eq!(info["magic"], magic, "{version}");
        assert_eq!(info["invalidation_mode"], "timestamp");
        assert_eq!(info["header"]["size"], 6);
        assert_eq!(Path::new(info["source"].as_str().unwrap()), source);
        assert_eq!(info["freshness"]["verdict"], "fresh", "{version}: {info}");
        assert_eq!(info["payload_is_code"], true);
        let minor = version.rsplit_once('.').unwrap().0;
        if !info["python"].as_str().unwrap().starts_with("PyPy") {
            assert_eq!(info["python"], format!("CPython {minor}"));
        }

        // Same mtime, other size: stale, and the reason says so.
        let file = std::fs::File::options().write(true).open(&source).unwrap();
        let mtime = file.metadata().unwrap().modified().unwrap();
        std::fs::write(&source, "x = 12\n").unwrap();
        file.set_modified(mtime).unwrap();
        let info = inspect_json(&pyc);
        assert_eq!(info["freshness"]["verdict"], "stale");
        assert_eq!(info["freshness"]["reason"], "size");

        if version.starts_with("3.6") {
            continue;
        }
        let out = python_output(
            &python,
            &[
                OsStr::new("-c"),
                OsStr::new(COMPILE),
                source.as_os_str(),
                OsStr::new("CHECKED_HASH"),
            ],
        );
        let info = inspect_json(Path::new(
            String::from_utf8(out).unwrap().lines().next().unwrap(),
        ));
        assert_eq!(info["invalidation_mode"], "checked-hash");
        assert_eq!(info["freshness"]["verdict"], "fresh", "{version}: {info}");
        std::fs::write(&source, "x = 13\n").unwrap();
        let info = inspect_json(&pyc);
        assert_eq!(info["freshness"]["reason"], "hash", "{version}: {info}");
    }
}

#[test]
fn text_output_names_the_essentials() {
    let dir = tempfile::tempdir().unwrap();
    let pyc = dir.path().join("__pycache__").join("m.cpython-312.pyc");
    std::fs::create_dir(pyc.parent().unwrap()).unwrap();
    let mut data = vec![0xcb, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
    data.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    data.extend_from_slice(&6u32.to_le_bytes());
    data.push(0xe3);
    std::fs::write(&pyc, &data).unwrap();
    let output = pycache().arg("inspect").arg(&pyc).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("CPython 3.12"), "{text}");
    assert!(text.contains("2023-11-14 22:13:20 UTC"), "{text}");
    assert!(text.contains("timestamp"), "{text}");
    assert!(text.contains("no-source"), "{text}");
}

#[test]
fn not_a_pyc_gets_one_clear_line_and_others_still_shown() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join(OsStr::from_bytes(b"bogus\xff.pyc"));
    std::fs::write(&bogus, b"#!/bin/sh\necho hi\n").unwrap();
    let empty = dir.path().join("empty.pyc");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("missing.pyc");
    let output = pycache()
        .arg("inspect")
        .arg(&bogus)
        .arg(&empty)
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].contains("bogus") && lines[0].contains("not a pyc file"),
        "{stderr}"
    );
    assert!(
        lines[1].contains("empty.pyc") && lines[1].contains("too short"),
        "{stderr}"
    );
    assert!(
        lines[2].contains("missing.pyc") && lines[2].contains("No such file"),
        "{stderr}"
    );
}
