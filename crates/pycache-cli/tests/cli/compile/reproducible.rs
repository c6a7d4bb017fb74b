//! `pycache compile --reproducible`: the same sources give the same bytes whatever the worker
//! count, the order the files are offered in, or what the workers compiled before; pycs that
//! other tools wrote are canonicalized in place; `check --reproducible` tells them apart.

use super::{Python, files_ending, pythons};
use crate::{assert_success, pycache};
use pycache::marshal::Pyc;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Modules that share names, strings and constants (what marshal flags by process history),
/// with set literals folded into frozensets (ordered by the hash seed before 3.11).
fn write_tree(root: &Path) -> Vec<PathBuf> {
    let mut sources = Vec::new();
    for i in 0..8 {
        let path = root.join(if i < 4 {
            format!("m{i}.py")
        } else {
            format!("pkg/m{i}.py")
        });
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            format!(
                "'''module {i}'''\nimport os\nNAMES = ('alpha', 'beta', 'gamma', 'module{i}')\n\
                 def check(x, y='alpha'):\n    if x in {{'alpha', 'beta', 'gamma', 'delta', 'x{i}'}}:\n        \
                 return (x, y, 1.5, {i})\n    return [n for n in NAMES if n != x]\n\
                 class Thing{i}:\n    kind = 'beta'\n    def method(self, alpha=None):\n        \
                 return check('alpha', alpha) or os.sep\n"
            ),
        )
        .unwrap();
        sources.push(path);
    }
    std::fs::write(root.join("pkg/__init__.py"), "from . import m4\n").unwrap();
    sources.push(root.join("pkg/__init__.py"));
    sources
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_ending(root, ".pyc")
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

fn remove_pycs(root: &Path) {
    for pyc in files_ending(root, ".pyc") {
        std::fs::remove_file(pyc).unwrap();
    }
}

fn compile_json(python: &Python, args: &[&std::ffi::OsStr]) -> Value {
    let output = pycache()
        .args(["compile", "--json", "--reproducible", "--python"])
        .arg(&python.path)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert_success(&output);
    serde_json::from_slice(&output.stdout).unwrap()
}

fn check_reproducible(python: &Python, root: &Path) -> i32 {
    let output = pycache()
        .args(["check", "--reproducible", "--python"])
        .arg(&python.path)
        .arg(root)
        .output()
        .unwrap();
    output.status.code().unwrap_or(-1)
}

#[test]
fn reproducible_pycs_are_the_same_whatever_the_workers_and_order() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let sources = write_tree(&root);
        compile_json(&python, &["-j1".as_ref(), root.as_os_str()]);
        let first = snapshot(&root);
        assert_eq!(first.len(), sources.len(), "{}", python.name);
        for (path, data) in &first {
            let canonical = Pyc::split(data).unwrap().is_canonical().unwrap();
            assert!(
                canonical,
                "{}: {} is not canonical",
                python.name,
                path.display()
            );
        }
        remove_pycs(&root);
        let mut reversed: Vec<&std::ffi::OsStr> = vec!["-j2".as_ref()];
        reversed.extend(sources.iter().rev().map(|p| p.as_os_str()));
        compile_json(&python, &reversed);
        let second = snapshot(&root);
        for (path, data) in &first {
            assert!(
                second.get(path) == Some(data),
                "{}: {} differs between runs",
                python.name,
                path.display()
            );
        }
        assert_eq!(check_reproducible(&python, &root), 0, "{}", python.name);
        if !python.is_pypy() {
            super::assert_imports_with_matches(
                &python,
                &root,
                "import m0, m1, m2, m3, pkg, pkg.m4, pkg.m5, pkg.m6, pkg.m7",
                &["m0", "m3", "__init__", "m4", "m7"],
            );
        }
    }
}

#[test]
fn reproducible_canonicalizes_what_compileall_wrote_in_place() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        write_tree(&root);
        compile_json(&python, &[root.as_os_str()]);
        let ours = snapshot(&root);
        remove_pycs(&root);
        // compileall in one process, with the seed the workers use.
        let output = std::process::Command::new(&python.path)
            .args(["-m", "compileall", "-q"])
            .arg(&root)
            .env("PYTHONHASHSEED", "0")
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        assert_success(&output);
        let theirs = snapshot(&root);
        let not_canonical = theirs
            .values()
            .filter(|d| !Pyc::split(d).unwrap().is_canonical().unwrap())
            .count();
        assert!(
            not_canonical > 0,
            "{}: compileall wrote canonical pycs",
            python.name
        );
        assert_eq!(check_reproducible(&python, &root), 1, "{}", python.name);
        let summary = compile_json(&python, &[root.as_os_str()]);
        let counts = &summary["interpreters"][0];
        assert_eq!(counts["compiled"], 0, "{}: {summary}", python.name);
        assert_eq!(
            counts["canonicalized"], not_canonical,
            "{}: {summary}",
            python.name
        );
        assert_eq!(check_reproducible(&python, &root), 0, "{}", python.name);
        let after = snapshot(&root);
        for (path, data) in &after {
            let header = |d: &[u8]| Pyc::split(d).unwrap().header().to_vec();
            assert_eq!(
                header(data),
                header(&theirs[path]),
                "{}: header kept",
                python.name
            );
        }
        if !python.is_pypy() {
            assert!(
                after == ours,
                "{}: canonicalized compileall output differs from ours",
                python.name
            );
            super::assert_imports_with_matches(
                &python,
                &root,
                "import m0, m1, m2, m3, pkg, pkg.m4, pkg.m5, pkg.m6, pkg.m7",
                &["m0", "m3", "__init__", "m4", "m7"],
            );
        }
    }
}

#[test]
fn source_date_epoch_implies_reproducible() {
    let python = pythons().into_iter().next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write_tree(&root);
    let run = |epoch: Option<&str>| {
        let mut command = pycache();
        command
            .args(["compile", "-q", "--python"])
            .arg(&python.path)
            .arg(&root);
        match epoch {
            Some(epoch) => command.env("SOURCE_DATE_EPOCH", epoch),
            None => command.env_remove("SOURCE_DATE_EPOCH"),
        };
        assert_success(&command.output().unwrap());
        let pycs = snapshot(&root);
        remove_pycs(&root);
        pycs.values()
            .filter(|d| !Pyc::split(d).unwrap().is_canonical().unwrap())
            .count()
    };
    assert!(
        run(None) > 0,
        "{}: plain workers wrote only canonical pycs",
        python.name
    );
    assert_eq!(run(Some("1700000000")), 0, "{}", python.name);
}

/// Real packages (each interpreter's own `json` and `email`), where process history shows: on
/// PyPy, without a fork per file, 29 of 66 pycs of json, email and asyncio differed between
/// two runs (`Z` against `z`).
#[test]
fn reproducible_stdlib_packages_are_the_same_whatever_the_workers_and_order() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let (_, stdout, _) = python.run(
            &root,
            &[
                "-c".as_ref(),
                "import json, os; print(os.path.dirname(os.path.dirname(json.__file__)))".as_ref(),
            ],
        );
        let stdlib = PathBuf::from(stdout.trim());
        for package in ["json", "email"] {
            super::copy_sources(&stdlib.join(package), &root.join(package), &|_| false);
        }
        let sources = files_ending(&root, ".py");
        assert!(
            sources.len() > 20,
            "{}: {} sources",
            python.name,
            sources.len()
        );
        compile_json(&python, &["-j1".as_ref(), root.as_os_str()]);
        let first = snapshot(&root);
        remove_pycs(&root);
        let mut reversed: Vec<&std::ffi::OsStr> = vec!["-j2".as_ref()];
        reversed.extend(sources.iter().rev().map(|p| p.as_os_str()));
        compile_json(&python, &reversed);
        let second = snapshot(&root);
        assert_eq!(first.len(), second.len(), "{}", python.name);
        let differ: Vec<&PathBuf> = first
            .iter()
            .filter(|(p, d)| second.get(*p) != Some(d))
            .map(|(p, _)| p)
            .collect();
        assert!(
            differ.is_empty(),
            "{}: {} of {} differ, first {:?}",
            python.name,
            differ.len(),
            first.len(),
            differ.first()
        );
    }
}

/// `check --reproducible` reads each fresh pyc once (the scan's own payload check is off), and
/// a payload that does not parse is still a failure, named `bad-code`.
#[test]
fn check_reproducible_fails_on_a_payload_that_does_not_parse() {
    let python = super::default_python();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write_tree(&root);
    compile_json(&python, &[root.as_os_str()]);
    assert_eq!(check_reproducible(&python, &root), 0);
    let pyc = files_ending(&root, ".pyc").remove(0);
    let data = std::fs::read(&pyc).unwrap();
    std::fs::write(&pyc, &data[..data.len() - 10]).unwrap();
    let output = pycache()
        .args(["check", "--reproducible", "--json", "--python"])
        .arg(&python.path)
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let bad: Vec<&Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "bad-code")
        .collect();
    assert_eq!(bad.len(), 1, "{json}");
    assert!(
        bad[0]["path"]
            .as_str()
            .unwrap()
            .ends_with(pyc.file_name().unwrap().to_str().unwrap())
    );
}
