//! End-to-end tests of the `pycache` binary, each answer checked against a real interpreter.

// The compile tests report their byte-identical counts on stderr.
#![allow(clippy::print_stderr)]

mod compile;
mod discovery;
mod ext;
mod hygiene;
mod inspect;
mod scheme;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub(crate) fn pycache() -> Command {
    Command::cargo_bin("pycache").unwrap()
}

/// Runs `python` (a command or a path) with `code` and returns its stdout bytes.
pub(crate) fn python_output(python: &Path, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let output = std::process::Command::new(python)
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The executable of the interpreter `pycache` picks for `--python REQUEST`, read from
/// `pycache interpreters --json` style output of `pycache tag`'s resolution.
pub(crate) fn interpreter_paths() -> Vec<(String, PathBuf)> {
    let output = pycache().args(["interpreters", "--json"]).output().unwrap();
    assert!(output.status.success());
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, PathBuf)> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["cache_tag"].is_null())
        .map(|i| {
            (
                i["version"].as_str().unwrap().to_owned(),
                PathBuf::from(i["path"].as_str().unwrap()),
            )
        })
        .collect();
    let required: usize = std::env::var("PYCACHE_TEST_REQUIRE_INTERPRETERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    assert!(
        found.len() >= required,
        "found {} interpreters, {required} required",
        found.len()
    );
    found
}
