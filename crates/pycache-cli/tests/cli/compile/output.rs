//! What `pycache compile` prints and how it exits: warnings as compileall shows them, `-v`,
//! usage errors, `-i -`, and `sys.path` when no path is given.

use super::{default_python, files_ending, pythons};
use crate::assert_success;
use crate::pycache;
use std::ffi::OsStr;
use std::path::Path;

/// Lines that are warnings (and their source lines), in order, from compileall's or our stderr.
fn warning_lines(stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut take_next = false;
    for line in stderr.lines() {
        if line.contains("Warning: ") {
            out.push(line.to_owned());
            take_next = true;
        } else if take_next && line.starts_with("  ") {
            out.push(line.to_owned());
            take_next = false;
        } else {
            take_next = false;
        }
    }
    out
}

#[test]
fn compile_warnings_reach_stderr_as_compileall_shows_them() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(work.join("w")).unwrap();
        std::fs::write(work.join("w/esc.py"), "x = '\\d'\nif x is 1:\n    pass\n").unwrap();
        std::fs::write(work.join("w/fine.py"), "y = 2\n").unwrap();
        let (_, _, theirs) = python.run(
            &work,
            &[
                OsStr::new("-m"),
                OsStr::new("compileall"),
                OsStr::new("-q"),
                OsStr::new("w"),
            ],
        );
        for pyc in files_ending(&work.join("w"), ".pyc") {
            std::fs::remove_file(pyc).unwrap();
        }
        let output = pycache()
            .current_dir(&work)
            .args(["compile", "-v", "-j", "1", "--python"])
            .arg(&python.path)
            .arg("w")
            .output()
            .unwrap();
        assert!(output.status.success());
        let ours = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            warning_lines(&ours),
            warning_lines(&theirs),
            "{}",
            python.name
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("Compiling 'w/esc.py'...")
                && stdout.contains("Compiling 'w/fine.py'..."),
            "{stdout}"
        );
    }
}

#[test]
fn usage_errors_exit_2_with_compileall_messages() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-d", "x", "-s", "y", "."],
            "-d cannot be used in combination with -s or -p",
        ),
        (
            &["-o", "1", "--hardlink-dupes", "."],
            "Hardlinking of duplicated bytecode makes sense only for more than one optimization level.",
        ),
        (&["-x", "(unclosed", "."], "-x"),
        (&["--invalidation-mode", "sometimes", "."], "invalid value"),
    ];
    for (args, message) in cases {
        let output = pycache().arg("compile").args(*args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn file_lists_come_from_stdin_with_dash() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.py"), "a = 1\n").unwrap();
    std::fs::write(dir.path().join("b.py"), "b = 1\n").unwrap();
    pycache()
        .current_dir(dir.path())
        .args(["compile", "-q", "-i", "-", "--python"])
        .arg(&python.path)
        .write_stdin("a.py\n")
        .assert()
        .success();
    assert!(
        dir.path()
            .join(format!("__pycache__/a.{}.pyc", python.tag))
            .is_file()
    );
    assert!(
        !dir.path()
            .join(format!("__pycache__/b.{}.pyc", python.tag))
            .exists()
    );
    let missing = pycache()
        .args(["compile", "-i", "/nonexistent/list", "--python"])
        .arg(&python.path)
        .output()
        .unwrap();
    assert_ne!(missing.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("Error reading file list /nonexistent/list")
    );
}

#[test]
fn no_path_means_sys_path_top_level_only() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    let entry = std::fs::canonicalize(dir.path()).unwrap().join("on_path");
    std::fs::create_dir_all(entry.join("sub")).unwrap();
    std::fs::write(entry.join("top.py"), "t = 1\n").unwrap();
    std::fs::write(entry.join("sub/deep.py"), "d = 1\n").unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let output = pycache()
        .current_dir(cwd.path())
        .args(["compile", "-q", "--python"])
        .arg(&python.path)
        .env("PYTHONPATH", &entry)
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        entry
            .join(format!("__pycache__/top.{}.pyc", python.tag))
            .is_file()
    );
    assert!(
        !Path::new(&entry.join(format!("sub/__pycache__/deep.{}.pyc", python.tag))).exists(),
        "maxlevels 0"
    );
}

#[test]
fn a_file_that_never_compiles_fails_again_without_starting_python() {
    let dir = tempfile::tempdir().unwrap();
    let (wrapper, counter) = super::counting_python(dir.path(), &default_python());
    let tree = dir.path().join("t");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("bad.py"), "def (:\n").unwrap();
    std::fs::write(tree.join("good.py"), "x = 1\n").unwrap();
    // Timestamps within two seconds of a run are not trusted; let them settle.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let cache = dir.path().join("cache");
    let run = |extra: &[&str]| {
        let output = pycache()
            .args(["compile", "--python"])
            .arg(&wrapper)
            .args(extra)
            .arg(&tree)
            .env("PYCACHE_CACHE_DIR", &cache)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let starts = || super::starts_of(&counter);
    let first = run(&[]);
    assert!(
        first.contains("bad.py") && first.contains("SyntaxError"),
        "{first}"
    );
    let after_first = starts();
    assert_eq!(run(&[]), first, "the same message again");
    assert_eq!(
        starts(),
        after_first,
        "no interpreter was started for a known failure"
    );
    // -f asks the interpreter again; so does an edit.
    assert_eq!(run(&["-f"]), first);
    assert!(starts() > after_first);
    let after_force = starts();
    std::fs::write(tree.join("bad.py"), "def (:\n\n").unwrap();
    let edited = run(&[]);
    assert!(edited.contains("SyntaxError"));
    assert!(starts() > after_force, "an edited file is compiled again");
}

#[test]
fn a_symlinked_pycache_is_read_through_as_import_does() {
    let dir = tempfile::tempdir().unwrap();
    let (wrapper, counter) = super::counting_python(dir.path(), &default_python());
    let tree = dir.path().join("t");
    std::fs::create_dir_all(dir.path().join("store")).unwrap();
    std::fs::create_dir_all(&tree).unwrap();
    std::os::unix::fs::symlink("../store", tree.join("__pycache__")).unwrap();
    std::fs::write(tree.join("a.py"), "x = 1\n").unwrap();
    let cache = dir.path().join("cache");
    let run = |command: &str| {
        pycache()
            .args([command, "--python"])
            .arg(&wrapper)
            .arg(&tree)
            .env("PYCACHE_CACHE_DIR", &cache)
            .output()
            .unwrap()
    };
    let starts = || super::starts_of(&counter);
    assert_eq!(run("compile").status.code(), Some(0));
    let written = files_ending(&dir.path().join("store"), ".pyc");
    assert_eq!(written.len(), 1, "the pyc went through the link");
    let after_first = starts();
    assert!(after_first > 0);
    let again = run("compile");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(starts(), after_first, "the pyc behind the link is fresh");
    assert_eq!(run("check").status.code(), Some(0));
}
