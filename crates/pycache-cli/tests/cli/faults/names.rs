//! Pyc names and paths that cannot exist are classified as such.

use super::{python, write};
use crate::pycache;
use serde_json::Value;
use std::path::Path;

fn kinds(python: &crate::compile::Python, tree: &Path) -> Vec<(String, String)> {
    let output = pycache()
        .args(["check", "-v", "--json", "--python"])
        .arg(&python.path)
        .arg(tree)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = path.rsplit('/').next().unwrap().to_owned();
            (f["kind"].as_str().unwrap().to_owned(), name)
        })
        .collect()
}

fn dry_run(python: &crate::compile::Python, tree: &Path) -> String {
    let output = pycache()
        .args(["clean", "--dry-run", "--python"])
        .arg(&python.path)
        .arg(tree)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn names_import_refuses_are_no_sources_pycs() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    write(&tree.join("a.py"), "a = 1\n");
    pycache()
        .args(["compile", "-q", "--python"])
        .arg(&python.path)
        .arg(tree)
        .assert()
        .success();
    let pyc = tree.join(format!("__pycache__/a.{}.pyc", python.tag));
    let bad = [
        format!("a.{}.opt-.pyc", python.tag),
        format!("a.{}.opt-1.opt-2.pyc", python.tag),
    ];
    for name in &bad {
        std::fs::copy(&pyc, tree.join("__pycache__").join(name)).unwrap();
    }
    let found = kinds(&python, tree);
    for name in &bad {
        assert!(
            found.contains(&("orphan".to_owned(), name.clone())),
            "{name}: {found:?}"
        );
    }
    let fresh = found.iter().filter(|(kind, _)| kind == "fresh").count();
    assert_eq!(fresh, 1, "only a.py's own pyc is fresh: {found:?}");
}

#[test]
fn a_pyc_that_cannot_exist_is_missing_not_stale() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    // Its __pycache__ is a file.
    let tree = dir.path().join("t");
    write(&tree.join("b.py"), "b = 1\n");
    std::fs::write(tree.join("__pycache__"), b"not a directory").unwrap();
    // Its pyc's path is longer than PATH_MAX (the source's is not).
    let long = dir.path().join("long");
    let mut deep = long.clone();
    while deep.as_os_str().len() < 4096 - 300 {
        deep.push("d".repeat(200));
    }
    std::fs::create_dir_all(&deep).unwrap();
    let stem = "m".repeat(4094 - deep.as_os_str().len() - 4);
    std::fs::write(deep.join(format!("{stem}.py")), "m = 1\n").unwrap();
    for root in [&tree, &long] {
        let found = kinds(&python, root);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "missing", "{found:?}");
        let offered = dry_run(&python, root);
        assert!(offered.contains("would remove 0 files"), "{offered}");
    }
}
