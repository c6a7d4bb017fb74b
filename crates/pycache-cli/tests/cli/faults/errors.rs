//! Every error is counted and fails the command: unreadable paths, resource limits.

use super::{python, write};
use crate::compile::pythons;
use crate::pycache;
use serde_json::Value;
use std::process::Command;

#[test]
fn a_path_that_cannot_be_read_fails_every_command() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    for arg in ["dangling", "loop", "nonexistent"] {
        for command in [
            &["compile"][..],
            &["check"],
            &["check", "--json"],
            &["clean", "--all"],
            &["ext", "--strict"],
        ] {
            let output = pycache()
                .current_dir(root)
                .args(command)
                .arg("--python")
                .arg(&python.path)
                .arg(arg)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{command:?} {arg}: {stderr}");
            assert!(stderr.contains(arg), "{command:?} {arg}: named: {stderr}");
            if command.contains(&"--json") {
                let json: Value = serde_json::from_slice(&output.stdout).unwrap();
                assert_eq!(json["ok"], false);
                let problems = json["problems"].as_array().unwrap();
                assert_eq!(problems.len(), 1, "{json}");
                assert!(problems[0]["path"].as_str().unwrap().contains(arg));
            }
        }
    }
    // The summary counts what the exit status is for.
    let output = pycache()
        .current_dir(root)
        .args(["compile", "--python"])
        .arg(&python.path)
        .arg("nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 path unreadable"), "{stdout}");
}

#[test]
fn running_out_of_descriptors_fails_every_command() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    for i in 0..50 {
        write(&tree.join(format!("d{}/m{i}.py", i % 5)), "x = 1\n");
    }
    let compiled = pycache()
        .args(["compile", "-q", "--python"])
        .arg(&python.path)
        .arg(&tree)
        .output()
        .unwrap();
    crate::assert_success(&compiled);
    let binary = assert_cmd::cargo::cargo_bin("pycache");
    for command in ["compile -f", "check", "clean --all"] {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n 4; exec \"$0\" {command} --python \"$1\" \"$2\""
            ))
            .arg(&binary)
            .arg(&python.path)
            .arg(&tree)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("Too many open files"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn a_process_limit_leaves_the_workers_that_started_to_do_the_work() {
    // RLIMIT_NPROC does not bind root: the run drops to another user, with an interpreter that
    // user can run (not one under /root).
    let python = pythons()
        .into_iter()
        .find(|p| p.path.starts_with("/usr/"))
        .expect("a system interpreter under /usr");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    for i in 0..60 {
        write(&tree.join(format!("m{i}.py")), &format!("x = {i}\n"));
    }
    let open = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    };
    open(dir.path());
    open(&tree);
    let binary = assert_cmd::cargo::cargo_bin("pycache");
    // prlimit, not `sh -c 'ulimit -u'`: dash has no -u and would go on without the limit. A
    // user of its own: every process of the user counts against the limit.
    let output = Command::new("setpriv")
        .args(["--reuid=61515", "--regid=61515", "--clear-groups"])
        .args(["prlimit", "--nproc=6", "--"])
        .arg(&binary)
        .args(["compile", "-j", "2", "--python"])
        .arg(&python.path)
        .arg(&tree)
        .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(crate::compile::files_ending(&tree, ".pyc").len(), 60);
}
