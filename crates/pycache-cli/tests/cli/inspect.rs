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
        let mtime = std::fs::metadata(&source).unwrap().modified().unwrap();
        std::fs::write(&source, "x = 12\n").unwrap();
        test_support::set_mtime(&source, mtime);
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

const CODE_SOURCE: &str = "\"\"\"doc\"\"\"\nX = 1.5\ndef f(a, b=2, *args, c, **kw):\n    return (a, 'é', b'\\x00')\n\
class C:\n    def m(self):\n        yield frozenset({1})\n";

/// Each code object under the pyc's, in `co_consts` order: name, first line, flags, argcount.
const CODE_TREE: &str = "import sys, marshal, json, types\n\
data = open(sys.argv[1], 'rb').read()\n\
code = marshal.loads(data[16 if sys.version_info >= (3, 7) else 12:])\n\
def tree(c):\n    return {'name': getattr(c, 'co_qualname', c.co_name), 'firstlineno': c.co_firstlineno,\n\
            'flags_value': c.co_flags, 'argcount': c.co_argcount,\n\
            'children': [tree(k) for k in c.co_consts if isinstance(k, types.CodeType)]}\n\
print(json.dumps(tree(code)))";

fn our_tree(value: &Value) -> Value {
    serde_json::json!({
        "name": value.get("qualname").unwrap_or(&value["name"]),
        "firstlineno": value["firstlineno"],
        "flags_value": value["flags_value"],
        "argcount": value["argcount"],
        "children": value["children"].as_array().unwrap().iter().map(our_tree).collect::<Vec<_>>(),
    })
}

#[test]
fn inspect_code_shows_the_tree_the_interpreter_loads() {
    for (version, python) in interpreter_paths() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("mod.py");
        std::fs::write(&source, CODE_SOURCE).unwrap();
        let out = python_output(
            &python,
            &[OsStr::new("-c"), OsStr::new(COMPILE), source.as_os_str()],
        );
        let pyc = Path::new(String::from_utf8(out).unwrap().lines().next().unwrap()).to_owned();
        let theirs = python_output(
            &python,
            &[OsStr::new("-c"), OsStr::new(CODE_TREE), pyc.as_os_str()],
        );
        let theirs: Value = serde_json::from_slice(&theirs).unwrap();
        let output = pycache()
            .args(["inspect", "--code", "--json"])
            .arg(&pyc)
            .output()
            .unwrap();
        assert_success(&output);
        let ours: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(our_tree(&ours["pycs"][0]), theirs, "{version}");
        let function = &ours["pycs"][0]["children"][0];
        assert_eq!(function["filename"], source.to_str().unwrap(), "{version}");
        assert_eq!(function["kwonlyargcount"], 1, "{version}");
        assert!(
            function["flags"]
                .as_array()
                .unwrap()
                .contains(&"VARKEYWORDS".into())
        );
        assert!(
            function["constants"]
                .as_array()
                .unwrap()
                .contains(&"\"é\"".into()),
            "{version}: {function}"
        );

        let text = pycache()
            .args(["inspect", "--code"])
            .arg(&pyc)
            .output()
            .unwrap();
        assert_success(&text);
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(
            text.contains("C.m (line 6") || text.contains("m (line 6"),
            "{version}: {text}"
        );

        // A payload cut short: exit 1 and an error naming the offset.
        let data = std::fs::read(&pyc).unwrap();
        std::fs::write(&pyc, &data[..data.len() - 3]).unwrap();
        let output = pycache()
            .args(["inspect", "--code"])
            .arg(&pyc)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{version}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("bad code object") && stderr.contains("at offset"),
            "{version}: {stderr}"
        );
    }
}

/// A pyc whose payload is marshalled data but not code (`marshal.dumps(42)` after a 3.12
/// header): `--code` shows the constant, in JSON and as text, and does not fail.
#[test]
fn inspect_code_of_a_payload_that_is_not_code() {
    let dir = tempfile::tempdir().unwrap();
    let pyc = dir.path().join("n.cpython-312.pyc");
    // 3.12's magic, flags 0, mtime 0, size 0; then TYPE_INT 42.
    let mut data = vec![0xcb, 0x0d, 0x0d, 0x0a];
    data.extend([0; 12]);
    data.extend([b'i', 42, 0, 0, 0]);
    std::fs::write(&pyc, data).unwrap();
    let output = pycache()
        .args(["inspect", "--code", "--json"])
        .arg(&pyc)
        .output()
        .unwrap();
    assert_success(&output);
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["pycs"], serde_json::json!([{"constant": "42"}]));
    let output = pycache()
        .args(["inspect", "--code"])
        .arg(&pyc)
        .output()
        .unwrap();
    assert_success(&output);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.ends_with(":\n  - (line null, -)\n    args - posonly - kwonly -  stack -  flags -\n"),
        "{text}"
    );
}
