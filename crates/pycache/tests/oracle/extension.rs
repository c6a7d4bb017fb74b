//! Which file an interpreter loads for a module, against
//! `importlib.machinery.PathFinder.find_spec` run by that interpreter on the same directory.

use crate::support::{interpreters, run_oracle};
use pycache::extension::{ExtensionName, Found, find_module};
use serde_json::{Value, json};
use std::path::Path;

const SCRIPT: &str = include_str!("find_spec_oracle.py");

fn touch(dir: &Path, name: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"").unwrap();
}

// Over 80 lines on purpose: the table of every tag form is most of it, and reads best beside
// the comparison with find_spec that uses it.
#[test]
fn find_module_matches_find_spec_for_every_tag_form() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    // Every tag form, one module each, plus the combinations that decide priority.
    for name in [
        "a.cpython-311-x86_64-linux-gnu.so",
        "b.abi3.so",
        "c.so",
        "e.cpython-312-darwin.so",
        "f.cp312-win_amd64.pyd",
        "f_d.cp312-win_amd64.pyd",
        "g.pypy39-pp73-x86_64-linux-gnu.so",
        "h.cpython-312d-x86_64-linux-gnu.so",
        "i.abi3.so",
        "i.py",
        "j.py",
        "j.pyc",
        "k.pyc",
        "L.so",
        "m.cpython-313t-x86_64-linux-gnu.so",
        "o.cpython-36m-x86_64-linux-gnu.so",
        "p.cpython-32mu.so",
        "q.pyd",
        "d.abi3.so",
        "d.py",
        "d.so",
        "pkg/__init__.py",
        "pkg/__init__.abi3.so",
        "ns/inner.py",
    ] {
        touch(&d, name);
    }
    // Each interpreter's own tagged names, for modules d (with fallbacks) and n (alone).
    for interpreter in interpreters() {
        for suffix in interpreter.extension_suffixes() {
            touch(&d, &format!("d{suffix}"));
            touch(&d, &format!("n{suffix}"));
        }
    }
    let names = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "L", "m", "n", "o", "p", "q",
        "pkg", "ns", "missing",
    ];
    for interpreter in interpreters() {
        let theirs = run_oracle(
            interpreter,
            SCRIPT,
            &json!({"dir": d, "names": names}),
            &[],
            &d,
        );
        for name in names {
            let ours = match find_module(&d, name, interpreter.extension_suffixes()) {
                None => Value::Null,
                Some(Found::Namespace(path)) => json!({"namespace": [path]}),
                Some(Found::Package(path)) => json!({"origin": path, "package": true}),
                Some(Found::Module(path)) => json!({"origin": path, "package": false}),
            };
            assert_eq!(
                ours,
                theirs[name],
                "{}: module {name}",
                interpreter.display_name()
            );
        }
        // The file it looks for first is name + EXT_SUFFIX, and it parses as its own tag.
        if let Some(ext_suffix) = interpreter.ext_suffix() {
            let own = pycache::extension::file_name_for("n", ext_suffix);
            let parsed = ExtensionName::parse(&own).unwrap();
            assert_eq!(parsed.module, "n");
            let expected = interpreter.version();
            match parsed.tag {
                pycache::extension::ExtensionTag::CPython { version, .. }
                | pycache::extension::ExtensionTag::PyPy { version, .. } => {
                    assert_eq!(version, expected)
                }
                other => panic!("{}: {own} parsed as {other:?}", interpreter.display_name()),
            }
        }
    }
}
