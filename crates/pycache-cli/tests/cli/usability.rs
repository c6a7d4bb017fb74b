//! What a new user meets: commands that refuse what would surprise them, output that stops
//! quietly when its reader goes away, numbers and patterns read as compileall reads them.

use crate::pycache;
use std::path::Path;
use std::process::Stdio;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A tree of `n` sources and no pycs.
fn sources(dir: &Path, n: usize) -> std::path::PathBuf {
    let root = dir.join("src");
    for i in 0..n {
        write(&root.join(format!("m{i}.py")), &format!("x = {i}\n"));
    }
    root
}

#[test]
fn clean_without_a_path_is_a_usage_error_and_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let tag = pycache().arg("tag").output().unwrap().stdout;
    let tag = String::from_utf8(tag).unwrap();
    let orphan = site.join(format!("__pycache__/gone.{}.pyc", tag.trim()));
    write(&orphan, "orphan");
    let output = pycache()
        .arg("clean")
        .env("PYTHONPATH", &site)
        .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("at least one FILE|DIR"), "{stderr}");
    assert!(
        orphan.exists(),
        "clean without a path removed {}",
        orphan.display()
    );
}

#[test]
fn clean_keeps_tags_only_under_a_name_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = pycache()
        .args(["clean", "--tags", "cpython-312"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    pycache()
        .args(["clean", "--keep-tags", "cpython-312"])
        .arg(dir.path())
        .assert()
        .success();
}

/// Runs `pycache args` with a stdout whose reader is already gone.
fn with_closed_stdout(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    crate::pycache_process()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_gate_piped_into_head_still_fails_and_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = sources(dir.path(), 30);
    let output = with_closed_stdout(&["check".as_ref(), "-v".as_ref(), root.as_os_str()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "pycs are missing: the gate fails"
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = with_closed_stdout(&["interpreters".as_ref()]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_full_stdout_is_an_error_of_the_run_not_of_its_usage() {
    let dir = tempfile::tempdir().unwrap();
    let root = sources(dir.path(), 3);
    for args in [&["check", "-v"][..], &["path", "--tag", "cpython-312"]] {
        let output = crate::pycache_process()
            .args(args)
            .arg(root.join("m0.py"))
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to stdout: No space left on device")
                && !stderr.contains("os error"),
            "{stderr}"
        );
    }
    let output = crate::pycache_process()
        .arg("interpreters")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn exclude_reads_python_syntax_and_refuses_bad_patterns_as_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    write(&root.join("skip.py"), "x = 1\n");
    write(&root.join("keep.py"), "x = 2\n");
    let output = pycache()
        .args(["compile", "-v", "-x", r"skip\.py\Z"])
        .arg(&root)
        .output()
        .unwrap();
    crate::assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("keep.py") && !stdout.contains("skip.py"),
        "{stdout}"
    );
    for command in ["compile", "check", "clean"] {
        let output = pycache()
            .args([command, "-x", r"tests\q"])
            .arg(&root)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(r"bad escape \q at position 5"), "{stderr}");
    }
}

#[test]
fn an_exclude_pattern_that_fails_while_matching_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // `!` is in no temporary directory's name: the search fails at every place, slowly.
    write(&dir.path().join("a".repeat(40)).join("m.py"), "x = 1\n");
    let output = pycache()
        .args(["check", "--missing-ok", "-x", "(a*)*(?=!)"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("-x: ") && stderr.contains("backtracking"),
        "{stderr}"
    );
}

#[test]
fn numbers_read_as_argparse_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    write(&root.join("top.py"), "x = 1\n");
    write(&root.join("sub/deep.py"), "x = 2\n");
    let json = |args: &[&str]| -> serde_json::Value {
        let output = pycache()
            .args(["compile", "--json", "-f"])
            .args(args)
            .arg(&root)
            .output()
            .unwrap();
        crate::assert_success(&output);
        serde_json::from_slice(&output.stdout).unwrap()
    };
    assert_eq!(json(&["-o", "-1"])["interpreters"][0]["compiled"], 2);
    // CPython's test_compileall passes an option and its value as one argument.
    assert_eq!(json(&["-o 0"])["interpreters"][0]["compiled"], 2);
    assert_eq!(json(&["-r 0"])["interpreters"][0]["compiled"], 1);
    assert_eq!(json(&["-r", "-1"])["interpreters"][0]["compiled"], 1);
    let output = pycache()
        .args(["compile", "-o", "3"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("-1, 0, 1 or 2") && !stderr.contains("Sorry"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    let output = pycache()
        .args(["path", "--tag", "cpython-313", "-o", "-1", "a.py"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("ValueError: '-1' is not alphanumeric"),
        "{stderr}"
    );
}

#[test]
fn check_lists_twenty_problems_then_says_how_many_more() {
    let dir = tempfile::tempdir().unwrap();
    let root = sources(dir.path(), 25);
    let output = pycache().arg("check").arg(&root).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let listed = stdout.lines().filter(|l| l.starts_with("missing ")).count();
    assert_eq!(listed, 20, "{stdout}");
    assert!(
        stdout.ends_with("... and 5 more (-v for all)\n"),
        "{stdout}"
    );
    let output = pycache().args(["check", "-v"]).arg(&root).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("missing ")).count(),
        25
    );
    assert!(!stdout.contains("more (-v for all)"));
}

#[test]
fn counts_agree_with_their_nouns_and_say_what_they_count() {
    let dir = tempfile::tempdir().unwrap();
    let root = sources(dir.path(), 1);
    let tag = String::from_utf8(pycache().arg("tag").output().unwrap().stdout).unwrap();
    write(
        &root.join(format!("__pycache__/gone.{}.pyc", tag.trim())),
        "x",
    );
    let output = pycache().arg("check").arg(&root).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("): pycs: 0 fresh, 0 stale, 1 missing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n1 orphan (a pyc whose source is gone)\n"),
        "{stdout}"
    );
    let output = pycache()
        .args(["compile", "-o", "0", "-o", "1"])
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(": source files: 1 compiled, 0 fresh, 0 failed in "),
        "{stdout}"
    );
    let output = pycache().arg("clean").arg(&root).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("removed 1 file (1 B): 1 orphan; 0 empty __pycache__ directories"),
        "{stdout}"
    );
}

#[test]
fn the_progress_bar_draws_on_stderr_with_eta_and_messages_print_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = sources(dir.path(), 80);
    write(&root.join("bad.py"), "x = (\n");
    let out = dir.path().join("stdout.txt");
    let transcript = dir.path().join("tty.txt");
    let bin = assert_cmd::cargo::cargo_bin("pycache");
    // `script` gives the run a terminal; stdout goes to a file, stderr stays on the terminal.
    let command = format!(
        "'{}' compile -j 1 '{}' > '{}'",
        bin.display(),
        root.display(),
        out.display()
    );
    let status = std::process::Command::new("script")
        .args(["-qec", &command])
        .arg(&transcript)
        .stdout(Stdio::null())
        .status()
        .expect("util-linux's script runs the bar test in a terminal");
    assert_eq!(status.code(), Some(1));
    let stdout = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the summary on stdout: {stdout}"
    );
    let tty = String::from_utf8_lossy(&std::fs::read(&transcript).unwrap()).into_owned();
    assert!(
        tty.contains("/81 [00:00:0") && tty.contains(" left]"),
        "{tty}"
    );
    // The bar is cleared (ESC [2K) just before the error, so no frozen copy stays above it.
    let error = tty.find("*** Error compiling").expect("the error is shown");
    let before = &tty[..error];
    assert!(
        before.ends_with("\r\x1b[2K") || !before.contains("/81 ["),
        "{:?}",
        &before[before.len().saturating_sub(80)..]
    );
}

#[test]
fn system_errors_are_said_in_the_systems_words_only() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("f.py"), "x = 1\n");
    let through_a_file = dir.path().join("f.py/sub");
    for command in ["compile", "check", "clean"] {
        let output = pycache()
            .arg(command)
            .arg(&through_a_file)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains("Not a directory") && !stderr.contains("os error"),
            "{command}: {stderr}"
        );
    }
}
