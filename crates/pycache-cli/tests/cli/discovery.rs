//! Interpreter discovery and the probe cache, seen from the command line.

use crate::set_mtime;
use crate::{pycache, python_output};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A wrapper "interpreter" that counts how often it is started, then runs the real python3.
fn counting_python(dir: &Path) -> std::path::PathBuf {
    let real = python_output(
        Path::new("python3"),
        &[
            OsStr::new("-c"),
            OsStr::new("import sys; print(sys.executable)"),
        ],
    );
    let real = String::from_utf8(real).unwrap().trim().to_owned();
    let wrapper = dir.join("counting-python");
    let counter = dir.join("starts");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho start >> '{}'\nexec '{real}' \"$@\"\n",
            counter.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

fn starts(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("starts")).map_or(0, |s| s.lines().count())
}

#[test]
fn a_second_run_starts_no_python_until_the_executable_changes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let python = counting_python(dir.path());
    let run = || {
        pycache()
            .args(["tag", "--python"])
            .arg(&python)
            .env("PYCACHE_CACHE_DIR", &cache)
            .assert()
            .success();
    };
    run();
    assert_eq!(starts(dir.path()), 1);
    run();
    run();
    assert_eq!(starts(dir.path()), 1, "the cached probe was not used");
    // Another mtime means another executable: probe again.
    set_mtime(
        &python,
        std::time::SystemTime::now() + std::time::Duration::from_secs(5),
    );
    run();
    assert_eq!(starts(dir.path()), 2);
    // So do the variables that change the answers.
    pycache()
        .args(["tag", "--python"])
        .arg(&python)
        .env("PYCACHE_CACHE_DIR", &cache)
        .env("PYTHONOPTIMIZE", "1")
        .assert()
        .success();
    assert_eq!(starts(dir.path()), 3);
}

#[test]
fn the_active_virtualenv_is_the_default_and_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let status = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success());
    let theirs = python_output(
        &venv.join("bin/python"),
        &[
            OsStr::new("-c"),
            OsStr::new("import sys; print(sys.implementation.cache_tag)"),
        ],
    );
    pycache()
        .arg("tag")
        .env("VIRTUAL_ENV", &venv)
        .assert()
        .success()
        .stdout(theirs);
    let output = pycache()
        .args(["interpreters", "--json"])
        .env("VIRTUAL_ENV", &venv)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let first = list["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["default"] == true)
        .unwrap();
    assert_eq!(first["virtualenv"], true, "{first}");
    assert!(
        first["path"]
            .as_str()
            .unwrap()
            .starts_with(&*venv.to_string_lossy()),
        "{first}"
    );
}

#[test]
fn an_unknown_request_is_a_clear_error() {
    let output = pycache()
        .args(["tag", "--python", "9.99"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--python 9.99") && stderr.contains("no interpreter matches"),
        "{stderr}"
    );
}
