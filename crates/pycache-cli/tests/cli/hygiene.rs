//! `pycache check` and `pycache clean`, against what each interpreter's import really does.

use crate::compile::{Python, files_ending, pythons};
use crate::{pycache, set_mtime};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn check(python: &Python, tree: &Path, extra: &[&str]) -> (i32, String) {
    let output = pycache()
        .arg("check")
        .arg("--python")
        .arg(&python.path)
        .args(extra)
        .arg(tree)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn compile(python: &Python, tree: &Path, extra: &[&str]) {
    pycache()
        .arg("compile")
        .arg("-q")
        .arg("--python")
        .arg(&python.path)
        .args(extra)
        .arg(tree)
        .assert()
        .success();
}

#[test]
fn check_is_a_gate_for_timestamp_and_checked_hash_pycs() {
    for python in pythons() {
        let modes: &[&str] = if python.at_least(3, 7) {
            &["timestamp", "checked-hash"]
        } else {
            &["timestamp"]
        };
        for mode in modes {
            let dir = tempfile::tempdir().unwrap();
            let tree = dir.path().join("t");
            write(&tree.join("a.py"), "a = 1\n");
            write(&tree.join("sub/b.py"), "b = 2\n");
            let compile_args = ["--invalidation-mode", mode];
            let args: &[&str] = if python.at_least(3, 7) {
                &compile_args
            } else {
                &[]
            };
            compile(&python, &tree, args);
            assert_eq!(check(&python, &tree, &[]).0, 0, "{} {mode}", python.name);

            // Touch: a timestamp pyc is stale; a checked-hash one is not (import would use it).
            let a = tree.join("a.py");
            set_mtime(&a, SystemTime::now() + Duration::from_secs(30));
            let (code, out) = check(&python, &tree, &[]);
            if *mode == "timestamp" {
                assert_eq!(code, 1, "{}: {out}", python.name);
                assert!(
                    out.contains("'") && out.contains("a.py") && out.contains("mtime"),
                    "{}: {out}",
                    python.name
                );
            } else {
                assert_eq!(code, 0, "{}: {out}", python.name);
            }
            compile(&python, &tree, args);

            // Edit with the same mtime and another size.
            let b = tree.join("sub/b.py");
            let mtime = std::fs::metadata(&b).unwrap().modified().unwrap();
            std::fs::write(&b, "b = 22\n").unwrap();
            set_mtime(&b, mtime);
            let (code, out) = check(&python, &tree, &[]);
            let reason = if *mode == "timestamp" { "size" } else { "hash" };
            assert_eq!(code, 1, "{}: {out}", python.name);
            assert!(
                out.contains("b.py") && out.contains(reason),
                "{} {mode}: {out}",
                python.name
            );
            compile(&python, &tree, args);

            // Replace the file with another of the same size.
            let replacement = tree.join("a.py.new");
            std::fs::write(&replacement, "a = 3\n").unwrap();
            std::fs::rename(&replacement, &a).unwrap();
            set_mtime(&a, SystemTime::now() + Duration::from_secs(60));
            let (code, out) = check(&python, &tree, &[]);
            assert_eq!(code, 1, "{} {mode}: {out}", python.name);
            let reason = if *mode == "timestamp" {
                "mtime"
            } else {
                "hash"
            };
            assert!(
                out.contains("a.py") && out.contains(reason),
                "{} {mode}: {out}",
                python.name
            );

            // A source without any pyc is missing; --missing-ok lets it pass.
            compile(&python, &tree, args);
            write(&tree.join("new.py"), "n = 1\n");
            let (code, out) = check(&python, &tree, &[]);
            assert_eq!(code, 1, "{out}");
            assert!(out.contains("missing") && out.contains("new.py"), "{out}");
            assert_eq!(check(&python, &tree, &["--missing-ok"]).0, 0);
        }
    }
}

/// A tree with one of each kind of debris, for `tag` (the selected interpreter's).
fn debris_tree(root: &Path, python: &Python) {
    let tag = &python.tag;
    write(&root.join("keep.py"), "k = 1\n");
    write(&root.join("stale.py"), "s = 1\n");
    compile(python, root, &[]);
    set_mtime(
        &root.join("stale.py"),
        SystemTime::now() + Duration::from_secs(30),
    );
    let pycache_dir = root.join("__pycache__");
    let keep_pyc = pycache_dir.join(format!("keep.{tag}.pyc"));
    std::fs::copy(&keep_pyc, pycache_dir.join(format!("gone.{tag}.pyc"))).unwrap();
    let other = if tag == "cpython-39" {
        "cpython-38"
    } else {
        "cpython-39"
    };
    std::fs::copy(&keep_pyc, pycache_dir.join(format!("keep.{other}.pyc"))).unwrap();
    std::fs::copy(&keep_pyc, root.join("keep.pyc")).unwrap();
    std::fs::copy(&keep_pyc, root.join("shipped.pyc")).unwrap();
    let temp = pycache_dir.join(format!("keep.{tag}.pyc.4242"));
    std::fs::write(&temp, b"half").unwrap();
    // Abandoned long ago: clean leaves younger ones alone (a write may be in progress).
    set_mtime(&temp, SystemTime::now() - Duration::from_secs(600));
    std::fs::write(pycache_dir.join("notes.txt"), b"not a pyc: never removed").unwrap();
    // A symlink out of the tree must never be followed.
    let outside = root.parent().unwrap().join("outside");
    write(
        &outside.join("__pycache__").join(format!("x.{tag}.pyc")),
        "precious",
    );
    write(&outside.join("x.py"), "x = 1\n");
    std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
}

fn kinds(python: &Python, root: &Path) -> Vec<(String, String)> {
    let output = pycache()
        .args(["check", "-v", "--json", "--python"])
        .arg(&python.path)
        .arg(root)
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut found: Vec<(String, String)> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (f["kind"].as_str().unwrap().to_owned(), name)
        })
        .collect();
    found.sort();
    found
}

// Over 80 lines on purpose: one tree holding every kind of debris, then clean --dry-run, clean
// and clean --keep-tags on that same tree; split, each part would rebuild the tree.
#[test]
fn every_kind_of_debris_is_found_and_removed_only_when_asked() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        debris_tree(&root, &python);
        let tag = &python.tag;
        let other = if tag == "cpython-39" {
            "cpython-38"
        } else {
            "cpython-39"
        };
        let mut expected: Vec<(String, String)> = vec![
            ("fresh".into(), format!("keep.{tag}.pyc")),
            ("stale".into(), format!("stale.{tag}.pyc")),
            ("orphan".into(), format!("gone.{tag}.pyc")),
            ("other-tag".into(), format!("keep.{other}.pyc")),
            ("legacy".into(), "keep.pyc".into()),
            ("sourceless".into(), "shipped.pyc".into()),
            ("temp".into(), format!("keep.{tag}.pyc.4242")),
        ];
        expected.sort();
        assert_eq!(kinds(&python, &root), expected, "{}", python.name);

        let all_files = |root: &Path| {
            let mut files = files_ending(root, "");
            files.retain(|p| p.is_file() || p.is_symlink());
            files
        };
        let before = all_files(&root);
        let dry = pycache()
            .args(["clean", "--dry-run", "--all", "--python"])
            .arg(&python.path)
            .arg(&root)
            .output()
            .unwrap();
        assert!(dry.status.success());
        assert_eq!(all_files(&root), before, "--dry-run removed something");
        assert!(String::from_utf8_lossy(&dry.stdout).contains("would remove"));

        let clean = |extra: &[&str]| {
            pycache()
                .arg("clean")
                .arg("--python")
                .arg(&python.path)
                .args(extra)
                .arg(&root)
                .assert()
                .success();
            kinds(&python, &root)
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        // Default: orphans, stale pycs and temp files go; the rest stays.
        let left = clean(&[]);
        for gone in ["orphan", "stale", "temp"] {
            assert!(
                !left.contains(&gone.to_owned()),
                "{}: {gone} left: {left:?}",
                python.name
            );
        }
        for kept in ["fresh", "other-tag", "legacy", "sourceless"] {
            assert!(
                left.contains(&kept.to_owned()),
                "{}: {kept} removed: {left:?}",
                python.name
            );
        }
        let left = clean(&["--other-tags"]);
        assert!(!left.contains(&"other-tag".to_owned()) && left.contains(&"fresh".to_owned()));
        let left = clean(&["--remove-legacy"]);
        assert!(!left.contains(&"legacy".to_owned()) && left.contains(&"sourceless".to_owned()));
        let left = clean(&["--sourceless"]);
        assert!(!left.contains(&"sourceless".to_owned()));
        let left = clean(&["--all"]);
        assert!(
            left.iter().all(|k| k == "missing"),
            "{}: {left:?}",
            python.name
        );
        assert!(
            !root
                .join("__pycache__")
                .join(format!("keep.{tag}.pyc"))
                .exists()
        );
        assert!(
            root.join("__pycache__/notes.txt").exists(),
            "a file that is not a pyc was removed"
        );
        let outside = dir
            .path()
            .join("outside/__pycache__")
            .join(format!("x.{tag}.pyc"));
        assert_eq!(
            std::fs::read_to_string(outside).unwrap(),
            "precious",
            "followed a symlink out of the tree"
        );
    }
}

#[test]
fn keep_tags_removes_the_other_tags() {
    let python = pythons().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    debris_tree(&root, &python);
    pycache()
        .args(["clean", "--keep-tags", "cpython-27", "--python"])
        .arg(&python.path)
        .arg(&root)
        .assert()
        .success();
    let left: Vec<String> = kinds(&python, &root).into_iter().map(|(k, _)| k).collect();
    assert!(
        !left.contains(&"fresh".to_owned()) && !left.contains(&"other-tag".to_owned()),
        "{left:?}"
    );
}

#[test]
fn after_clean_every_interpreter_imports_as_before_and_no_kept_pyc_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap().join("t");
    write(&root.join("m1.py"), "V = 1\n");
    write(&root.join("pkg/__init__.py"), "");
    write(&root.join("pkg/m2.py"), "from . import m3\nV = m3.V + 1\n");
    write(&root.join("pkg/m3.py"), "V = 40\n");
    pycache()
        .args(["compile", "-q", "--python", "all"])
        .arg(&root)
        .assert()
        .success();
    set_mtime(
        &root.join("pkg/m3.py"),
        SystemTime::now() + Duration::from_secs(30),
    );
    std::fs::remove_file(root.join("m1.py")).unwrap();
    write(&root.join("m1.py"), "V = 1\n"); // replaced: its pycs are stale now
    let script = format!(
        "import sys; sys.path.insert(0, {:?}); import m1, pkg.m2; print(m1.V, pkg.m2.V)",
        root.to_str().unwrap()
    );
    let before: Vec<String> = pythons()
        .iter()
        .map(|p| {
            String::from_utf8(
                std::process::Command::new(&p.path)
                    .args(["-c", &script])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .unwrap()
        })
        .collect();
    pycache()
        .args(["clean", "--python", "all"])
        .arg(&root)
        .assert()
        .success();
    for (python, before) in pythons().iter().zip(before) {
        let after = std::process::Command::new(&python.path)
            .args(["-c", &script])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(after.stdout).unwrap(),
            before,
            "{}",
            python.name
        );
        assert_eq!(before.trim(), "1 41");
        // What is left is what import would use.
        assert_eq!(
            check(python, &root, &["--missing-ok"]).0,
            0,
            "{}",
            python.name
        );
    }
}
