//! `clean` removes nothing outside the trees given, no directory, and no file being written.

use super::{python, write};
use crate::{pycache, set_mtime};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn compile(python: &crate::compile::Python, tree: &Path) {
    let output = pycache()
        .args(["compile", "-q", "--python"])
        .arg(&python.path)
        .arg(tree)
        .output()
        .unwrap();
    crate::assert_success(&output);
}

#[test]
fn clean_does_not_follow_a_symlinked_pycache_out_of_the_tree() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    write(&victim.join("a.py"), "a = 1\n");
    compile(&python, &victim);
    let precious = victim.join(format!("__pycache__/a.{}.pyc", python.tag));
    assert!(precious.is_file());
    let tree = dir.path().join("sy");
    write(&tree.join("pkg/a.py"), "a = 'another source'\n");
    std::os::unix::fs::symlink("../../victim/__pycache__", tree.join("pkg/__pycache__")).unwrap();
    for dry_run in [true, false] {
        let mut command = pycache();
        command.args(["clean", "--python"]).arg(&python.path);
        if dry_run {
            command.arg("--dry-run");
        }
        let output = command.arg(&tree).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(precious.is_file(), "dry run {dry_run}: {stdout}{stderr}");
        assert!(
            !stdout.contains("a.cpython"),
            "offered for removal: {stdout}"
        );
        assert!(
            stderr.contains("skipped") && stderr.contains("symlink"),
            "the symlinked __pycache__ is reported: {stderr}"
        );
    }
}

#[test]
fn clean_leaves_temporary_files_being_written() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    write(&tree.join("a.py"), "a = 1\n");
    compile(&python, &tree);
    let pycache_dir = tree.join("__pycache__");
    let old = SystemTime::now() - Duration::from_secs(600);
    let young = pycache_dir.join(format!("a.{}.pyc.1000001", python.tag));
    let locked = pycache_dir.join(format!("a.{}.pyc.1000002", python.tag));
    let abandoned = pycache_dir.join(format!("a.{}.pyc.1000003", python.tag));
    for path in [&young, &locked, &abandoned] {
        std::fs::write(path, b"half a pyc").unwrap();
    }
    set_mtime(&locked, old);
    set_mtime(&abandoned, old);
    // The writer's lock, as compile holds it while writing.
    let holder = std::fs::File::open(&locked).unwrap();
    rustix::fs::flock(&holder, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let output = pycache()
        .args(["clean", "--python"])
        .arg(&python.path)
        .arg(&tree)
        .output()
        .unwrap();
    crate::assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(young.exists(), "a temporary file written just now is kept");
    assert!(locked.exists(), "a locked temporary file is kept");
    assert!(!abandoned.exists(), "an old unlocked one goes: {stderr}");
    assert!(
        stderr.contains("locked") && stderr.contains("less than a minute"),
        "{stderr}"
    );
    drop(holder);
}

#[test]
fn clean_never_unlinks_a_directory() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    write(&tree.join("x.py"), "x = 1\n");
    let impostor = tree.join(format!("__pycache__/x.{}.pyc", python.tag));
    std::fs::create_dir_all(&impostor).unwrap();
    for args in [&["clean", "--dry-run"][..], &["clean"], &["clean", "--all"]] {
        let output = pycache()
            .args(args)
            .arg("--python")
            .arg(&python.path)
            .arg(&tree)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(impostor.is_dir());
        assert!(!stdout.contains("x.cpython"), "{args:?}: {stdout}");
        assert!(!stderr.contains("cannot remove"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_tree_given_through_a_symlink_is_cleaned() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    write(&tree.join("a.py"), "a = 1\n");
    let output = pycache()
        .args(["compile", "-q", "-b", "--python"])
        .arg(&python.path)
        .arg(&tree)
        .output()
        .unwrap();
    crate::assert_success(&output);
    compile(&python, &tree);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&tree, &link).unwrap();
    let output = pycache()
        .args(["clean", "--all", "--python"])
        .arg(&python.path)
        .arg(&link)
        .output()
        .unwrap();
    crate::assert_success(&output);
    assert!(!tree.join("a.pyc").exists(), "{output:?}");
    assert!(!tree.join("__pycache__").exists(), "{output:?}");
}
