//! End-to-end tests of the `pycache` binary, each answer checked against a real interpreter.

// The compile tests report their byte-identical counts on stderr.
#![allow(clippy::print_stderr)]

mod cache;
mod choice;
mod compile;
mod discovery;
mod ext;
mod faults;
mod hygiene;
mod inspect;
mod json;
mod packaging;
mod readme;
mod scheme;
mod snapshots;
mod usability;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The binary, with the cache of compiled code off (`PYCACHE_NO_CACHE=1`): every test then
/// sees what compiling does. The cache's own tests turn it back on, in a directory of their own.
pub(crate) fn pycache() -> Command {
    let mut command = Command::cargo_bin("pycache").unwrap();
    command.env("PYCACHE_NO_CACHE", "1");
    command
}

/// [`pycache`] as a plain `std::process::Command`, for a test that spawns it, waits on it or
/// gives it any file as stdout; the cache of compiled code is off here too (a test that left
/// what it compiled in the user's cache would make another test's files cache hits).
pub(crate) fn pycache_process() -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("pycache"));
    command.env("PYCACHE_NO_CACHE", "1");
    command
}

/// Asserts that a finished command exited 0, showing its stderr when it did not.
#[track_caller]
pub(crate) fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) use test_support::set_mtime;

/// Runs `python` (a command or a path) with `code` and returns its stdout bytes.
pub(crate) fn python_output(python: &Path, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let output = std::process::Command::new(python)
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert_success(&output);
    output.stdout
}

/// Every interpreter with a cache tag, as (full version, executable): [`compile::pythons`]
/// (which enforces `PYCACHE_TEST_REQUIRE_INTERPRETERS`) in the shape the scheme tests use.
pub(crate) fn interpreter_paths() -> Vec<(String, PathBuf)> {
    compile::pythons()
        .into_iter()
        .map(|p| {
            let version = p.name.split_once('-').map_or("", |(_, v)| v).to_owned();
            (version, p.path)
        })
        .collect()
}
