//! A wrapper script runs whatever its PATH finds: a cached probe must not outlive that.

use crate::compile::{Python, pythons};
use crate::pycache;
use std::os::unix::fs::PermissionsExt;

/// A CPython, and another interpreter with a different cache tag, for a wrapper to switch
/// between.
fn two_tags() -> (Python, Python) {
    let found = pythons();
    let first = found.iter().find(|p| !p.is_pypy()).expect("a CPython");
    let second = found
        .iter()
        .find(|p| p.tag != first.tag)
        .expect("two interpreters with different cache tags");
    (first.clone(), second.clone())
}

#[test]
fn a_wrapper_script_is_probed_again_when_its_path_changes() {
    let (first, second) = two_tags();
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("python-wrapper");
    std::fs::write(&wrapper, "#!/bin/sh\nexec python3 \"$@\"\n").unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, python) in [("a", &first), ("b", &second)] {
        let bin = dir.path().join(name);
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(&python.path, bin.join("python3")).unwrap();
    }
    let tree = dir.path().join("t");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("m.py"), "m = 1\n").unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for (name, python) in [("a", &first), ("b", &second)] {
        let mut search = std::ffi::OsString::from(dir.path().join(name));
        search.push(":");
        search.push(&path);
        let output = pycache()
            .args(["compile", "-f", "--python"])
            .arg(&wrapper)
            .arg(&tree)
            .env("PATH", &search)
            .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        crate::assert_success(&output);
        assert!(
            tree.join(format!("__pycache__/m.{}.pyc", python.tag))
                .is_file(),
            "{}",
            python.name
        );
    }
}

#[test]
fn a_worker_contradicting_the_probe_gets_the_interpreter_probed_again() {
    let (first, second) = two_tags();
    let dir = tempfile::tempdir().unwrap();
    // Which Python the wrapper runs is in a file the probe cache's key cannot see.
    let choice = dir.path().join("choice");
    let wrapper = dir.path().join("python-wrapper");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec \"$(cat {})\" \"$@\"\n", choice.display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tree = dir.path().join("t");
    std::fs::create_dir(&tree).unwrap();
    for i in 0..4 {
        std::fs::write(tree.join(format!("m{i}.py")), "m = 1\n").unwrap();
    }
    for python in [first, second] {
        std::fs::write(&choice, python.path.as_os_str().as_encoded_bytes()).unwrap();
        let output = pycache()
            .args(["compile", "-f", "--no-cache", "-j", "2", "--python"])
            .arg(&wrapper)
            .arg(&tree)
            .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        crate::assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("4 compiled, 0 fresh, 0 failed"), "{stdout}");
        for i in 0..4 {
            assert!(
                tree.join(format!("__pycache__/m{i}.{}.pyc", python.tag))
                    .is_file(),
                "{}",
                python.name
            );
        }
    }
}
