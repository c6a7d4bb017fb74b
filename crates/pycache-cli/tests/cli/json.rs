//! `--json` for CI: every document has `"version": 1` and `ok`, failures say where they are,
//! paths keep their exact bytes.

use crate::compile::pythons;
use crate::{assert_success, pycache};
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn write(path: &Path, text: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn json_of(args: &[&OsStr]) -> Value {
    let output = pycache().args(args).output().unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&output.stderr)))
}

const BAD_SOURCES: &[&str] = &[
    "x = 1\nif True:\n    y = (1 +\n         2 +)\n",
    "def f(:\n    pass\n",
    "\t\tz = 1 +\n",
    "print 'hello'\n",
    "x = 'caf\u{e9}' +* 2\n",
    "class C:\n    def g(self):\n        return 1 2\n",
];

const WHERE: &str = r#"
import sys
for path in sys.argv[1:]:
    try:
        compile(open(path, "rb").read(), path, "exec", dont_inherit=True)
        print("ok")
    except SyntaxError as e:
        print(type(e).__name__, e.lineno, e.offset)
"#;

#[test]
fn a_syntax_error_carries_its_pyc_level_line_and_column_as_python_reports_them() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        let mut paths = Vec::new();
        for (i, text) in BAD_SOURCES.iter().enumerate() {
            let path = root.join(format!("bad{i}.py"));
            write(&path, text.as_bytes());
            paths.push(path);
        }
        let output = std::process::Command::new(&python.path)
            .arg("-c")
            .arg(WHERE)
            .args(&paths)
            .output()
            .unwrap();
        assert_success(&output);
        let theirs = String::from_utf8(output.stdout).unwrap();
        let report = json_of(&[
            "compile".as_ref(),
            "--json".as_ref(),
            "-o".as_ref(),
            "1".as_ref(),
            "--python".as_ref(),
            python.path.as_os_str(),
            root.as_os_str(),
        ]);
        assert_eq!(report["version"], 1);
        assert_eq!(report["ok"], false);
        let failures = report["failures"].as_array().unwrap();
        for (path, expected) in paths.iter().zip(theirs.lines()) {
            let failure = failures
                .iter()
                .find(|f| f["source"].as_str() == path.to_str())
                .unwrap_or_else(|| panic!("{}: no failure for {}", python.name, path.display()));
            assert_eq!(failure["optimization"], 1, "{failure}");
            let pyc = failure["pyc"].as_str().unwrap();
            assert!(
                pyc.ends_with(&format!(".{}.opt-1.pyc", python.tag)),
                "{failure}"
            );
            let words: Vec<&str> = expected.split(' ').collect();
            assert_eq!(failure["exception"], words[0], "{}: {failure}", python.name);
            assert_eq!(
                failure["line"].to_string(),
                words[1],
                "{}: {failure}",
                python.name
            );
            if words[0] == "SyntaxError" {
                assert_eq!(
                    failure["column"].to_string(),
                    words[2],
                    "{}: {failure}",
                    python.name
                );
            }
        }
    }
}

/// Python turns the strings of each JSON document (separated by a NUL line) back into bytes.
const FSENCODE: &str = r#"
import json, os, sys
found = set()
def walk(v):
    if isinstance(v, dict):
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
    elif isinstance(v, str):
        found.add(os.fsencode(v).hex())
for doc in sys.stdin.buffer.read().split(b"\n\x00\n"):
    walk(json.loads(doc.decode("utf-8")))
print("\n".join(sorted(found)))
"#;

/// Every command's `--json` on a tree with a name that is not UTF-8: `os.fsencode` of the
/// strings gives back the exact bytes of the source and of its pyc.
#[test]
fn paths_in_json_give_back_their_exact_bytes_through_os_fsencode() {
    use std::io::Write;
    let python = crate::compile::default_python();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    let name = OsStr::from_bytes(b"caf\xe9 \xff\\.py");
    write(&root.join(name), b"x = 1\n");
    write(&root.join(OsStr::from_bytes(b"bad\xe9.py")), b"x = (\n");
    let raw: Vec<Vec<u8>> = [
        &["compile", "--json"][..],
        &["check", "-v", "--json"],
        &["clean", "--all", "--dry-run", "--json"],
    ]
    .iter()
    .map(|args| pycache().args(*args).arg(&root).output().unwrap().stdout)
    .collect();
    let mut child = std::process::Command::new(&python.path)
        .args(["-c", FSENCODE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&raw.join(&b"\n\x00\n"[..]))
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let found: Vec<Vec<u8>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(test_support::unhex)
        .collect();
    let pyc_name = [&b"caf\xe9 \xff\\."[..], python.tag.as_bytes(), b".pyc"].concat();
    let expected = [
        root.join(name),
        root.join(OsStr::from_bytes(b"bad\xe9.py")),
        root.join("__pycache__").join(OsStr::from_bytes(&pyc_name)),
    ];
    for path in &expected {
        let bytes = path.as_os_str().as_bytes().to_vec();
        assert!(
            found.contains(&bytes),
            "{path:?} not given back; found {:?}",
            found
                .iter()
                .map(|f| String::from_utf8_lossy(f))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_json_document_has_a_version_and_ok() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    write(&root.join("a.py"), b"x = 1\n");
    let compiled = json_of(&["compile".as_ref(), "--json".as_ref(), root.as_os_str()]);
    let pyc = std::fs::read_dir(root.join("__pycache__"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let documents = [
        ("compile", compiled),
        (
            "check",
            json_of(&["check".as_ref(), "--json".as_ref(), root.as_os_str()]),
        ),
        (
            "clean",
            json_of(&[
                "clean".as_ref(),
                "--dry-run".as_ref(),
                "--json".as_ref(),
                root.as_os_str(),
            ]),
        ),
        (
            "ext",
            json_of(&["ext".as_ref(), "--json".as_ref(), root.as_os_str()]),
        ),
        (
            "inspect",
            json_of(&["inspect".as_ref(), "--json".as_ref(), pyc.as_os_str()]),
        ),
        (
            "interpreters",
            json_of(&["interpreters".as_ref(), "--json".as_ref()]),
        ),
    ];
    for (command, document) in documents {
        assert_eq!(document["version"], 1, "{command}: {document}");
        if command != "interpreters" {
            assert_eq!(document["ok"], true, "{command}: {document}");
            assert!(document.get("success").is_none(), "{command}: {document}");
        }
    }
}

#[test]
fn check_json_counts_per_interpreter_and_lists_fresh_entries_only_with_v() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    write(&root.join("a.py"), b"x = 1\n");
    write(&root.join("b.py"), b"x = 2\n");
    json_of(&[
        "compile".as_ref(),
        "--json".as_ref(),
        root.join("a.py").as_os_str(),
    ]);
    let report = json_of(&["check".as_ref(), "--json".as_ref(), root.as_os_str()]);
    assert_eq!(report["ok"], false);
    let counts = &report["interpreters"][0];
    assert_eq!(
        (counts["fresh"].as_u64(), counts["missing"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    let kinds: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["missing"], "{report}");
    let verbose = json_of(&[
        "check".as_ref(),
        "-v".as_ref(),
        "--json".as_ref(),
        root.as_os_str(),
    ]);
    assert_eq!(
        verbose["findings"].as_array().unwrap().len(),
        2,
        "{verbose}"
    );
}
