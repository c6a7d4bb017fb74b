//! `pycache ext` on the real extension modules installed here, checked against each
//! interpreter's own `PathFinder.find_spec`.

use crate::compile::{Python, default_python, pythons};
use crate::pycache;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;

fn site_packages(python: &Python) -> String {
    let (_, out, _) = python.run(
        Path::new("/"),
        &[
            OsStr::new("-c"),
            OsStr::new("import sysconfig; print(sysconfig.get_paths()['platlib'])"),
        ],
    );
    out.trim().to_owned()
}

/// `find_spec` by `python` for each (directory, module): the origin, or None.
fn their_origins(python: &Python, modules: &[(String, String)]) -> Vec<Option<String>> {
    let script = "import importlib.machinery as m, json, sys\n\
pairs = json.load(sys.stdin)\n\
out = []\n\
for d, name in pairs:\n    s = m.PathFinder.find_spec(name, [d])\n    out.append(s.origin if s is not None else None)\n\
json.dump(out, sys.stdout)";
    let value = python.json(
        Path::new("/"),
        script,
        &[],
        &serde_json::to_string(modules).unwrap(),
    );
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn installed_extensions_for_their_interpreter_and_for_another() {
    let python = default_python();
    let site = site_packages(&python);
    let own = pycache()
        .args(["ext", "--strict", "--python"])
        .arg(&python.path)
        .arg(&site)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&own.stdout);
    assert_eq!(own.status.code(), Some(0), "{}: {text}", python.name);
    let summary = text.lines().last().unwrap_or_default().to_owned();
    let Some(other) = pythons()
        .into_iter()
        .find(|p| p.version != python.version && !p.is_pypy() && p.at_least(3, 8))
    else {
        panic!("a second CPython is needed to check loadability across versions");
    };
    let output = pycache()
        .args(["ext", "--strict", "--json", "--python"])
        .arg(&python.path)
        .arg("--python")
        .arg(&other.path)
        .arg(&site)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let modules = report["modules"].as_array().unwrap();
    assert!(
        !modules.is_empty(),
        "no extension modules found in {site} ({summary})"
    );
    let pairs: Vec<(String, String)> = modules
        .iter()
        .map(|m| {
            (
                m["directory"].as_str().unwrap().to_owned(),
                m["module"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (index, interpreter) in [&python, &other].iter().enumerate() {
        let theirs = their_origins(interpreter, &pairs);
        for (module, origin) in modules.iter().zip(theirs) {
            let ours = module["interpreters"][index]["loads"]
                .as_str()
                .map(str::to_owned);
            assert_eq!(
                ours, origin,
                "{} {}/{}",
                interpreter.name, module["directory"], module["module"]
            );
        }
    }
    let unloadable = report["interpreters"][1]["unloadable"].as_u64().unwrap();
    assert_eq!(report["interpreters"][0]["unloadable"], 0);
    assert_eq!(
        output.status.code(),
        Some(if unloadable > 0 { 1 } else { 0 })
    );
}

#[test]
fn shadowed_files_are_pointed_out() {
    let python = default_python();
    let (_, suffix, _) = python.run(
        Path::new("/"),
        &[
            OsStr::new("-c"),
            OsStr::new("import importlib.machinery as m; print(m.EXTENSION_SUFFIXES[0])"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("fast{}", suffix.trim())), b"").unwrap();
    std::fs::write(dir.path().join("fast.abi3.so"), b"").unwrap();
    std::fs::write(dir.path().join("stale.cpython-27-x86_64-linux-gnu.so"), b"").unwrap();
    let output = pycache()
        .args(["ext", "--python"])
        .arg(&python.path)
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("shadows fast.abi3.so"), "{text}");
    assert!(text.contains("cannot load it"), "{text}");
    assert_eq!(output.status.code(), Some(0), "without --strict");
    let strict = pycache()
        .args(["ext", "--strict", "--python"])
        .arg(&python.path)
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
}
