//! Every pyc we write for a copy of each interpreter's own standard library (and the
//! site-packages of the default interpreter) has the header `compileall`/`py_compile` writes,
//! and the same objects when unmarshalled inside that interpreter; byte-identical counts are
//! reported (marshal's FLAG_REF depends on reference counts, spec 7.5).

use super::{COMPARE, Python, copy_sources, default_python, files_ending, pythons};
use crate::pycache;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

fn skip_tests(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    matches!(
        &*name,
        "test" | "tests" | "idle_test" | "site-packages" | "dist-packages" | "__phello__"
    )
}

/// Compiles `tree` with compileall, keeps its pycs aside (`.pyc.theirs`), compiles it again
/// with pycache, and compares the pairs inside `python`.
fn compare_tree(python: &Python, tree: &Path) -> serde_json::Value {
    let mut args: Vec<&OsStr> = vec![OsStr::new("-m"), OsStr::new("compileall"), OsStr::new("-q")];
    if python.at_least(3, 8) {
        args.extend([OsStr::new("-j"), OsStr::new("0")]);
    }
    args.push(tree.as_os_str());
    let (_, _, stderr) = python.run(tree, &args);
    let theirs = files_ending(tree, ".pyc");
    assert!(
        !theirs.is_empty(),
        "{}: compileall wrote nothing: {stderr}",
        python.name
    );
    for pyc in &theirs {
        let mut aside = pyc.clone().into_os_string();
        aside.push(".theirs");
        std::fs::rename(pyc, aside).unwrap();
    }
    let ours = pycache()
        .args(["compile", "-q", "--python"])
        .arg(&python.path)
        .arg(tree)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PYTHONPYCACHEPREFIX")
        .output()
        .unwrap();
    let written = files_ending(tree, ".pyc");
    assert_eq!(
        written.len(),
        theirs.len(),
        "{}: compileall wrote {} pycs, pycache {} ({})",
        python.name,
        theirs.len(),
        written.len(),
        String::from_utf8_lossy(&ours.stderr)
    );
    let pairs: Vec<(PathBuf, PathBuf)> = written
        .into_iter()
        .map(|pyc| {
            let mut aside = pyc.clone().into_os_string();
            aside.push(".theirs");
            (pyc, PathBuf::from(aside))
        })
        .collect();
    python.json(tree, COMPARE, &[], &serde_json::to_string(&pairs).unwrap())
}

fn check(python: &Python, what: &str, report: &serde_json::Value) {
    let count = |key: &str| report[key].as_array().map_or(0, Vec::len);
    eprintln!(
        "{} {what}: {} pycs, {} byte-identical, {} equal objects, {} differ in bytes only (FLAG_REF/refcounts)",
        python.name,
        report["pairs"],
        report["identical"],
        report["equal"],
        count("byte_diff") - count("header_diff") - count("object_diff"),
    );
    assert_eq!(
        count("header_diff"),
        0,
        "{} {what}: headers differ: {:?}",
        python.name,
        report["header_diff"]
    );
    assert_eq!(
        count("object_diff"),
        0,
        "{} {what}: objects differ: {:?}",
        python.name,
        report["object_diff"]
    );
    if python.at_least(3, 11) && !python.is_pypy() {
        let pairs = report["pairs"].as_u64().unwrap();
        let identical = report["identical"].as_u64().unwrap();
        assert!(
            identical * 100 >= pairs * 99,
            "{} {what}: only {identical} of {pairs} byte-identical",
            python.name
        );
    }
}

#[test]
fn stdlib_of_every_interpreter_matches_compileall() {
    for python in pythons() {
        let (_, stdlib, _) = python.run(
            Path::new("/"),
            &[
                OsStr::new("-c"),
                OsStr::new("import sysconfig; print(sysconfig.get_paths()['stdlib'])"),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("lib");
        let copied = copy_sources(Path::new(stdlib.trim()), &tree, &skip_tests);
        assert!(copied > 300, "{}: only {copied} stdlib files", python.name);
        let report = compare_tree(&python, &tree);
        check(&python, "stdlib", &report);
    }
}

#[test]
fn site_packages_of_the_default_interpreter_matches_compileall() {
    let python = default_python();
    let (_, purelib, _) = python.run(
        Path::new("/"),
        &[
            OsStr::new("-c"),
            OsStr::new("import sysconfig; print(sysconfig.get_paths()['purelib'])"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("site-packages");
    let copied = copy_sources(Path::new(purelib.trim()), &tree, &|_| false);
    if copied == 0 {
        // A bare interpreter has nothing installed to compare; where interpreters are required
        // (CI), an empty site-packages means the test compared nothing, which is a failure.
        assert!(
            std::env::var_os("PYCACHE_TEST_REQUIRE_INTERPRETERS").is_none(),
            "site-packages of {} is empty: nothing was compared",
            python.name
        );
        return;
    }
    let report = compare_tree(&python, &tree);
    check(&python, "site-packages", &report);
}
