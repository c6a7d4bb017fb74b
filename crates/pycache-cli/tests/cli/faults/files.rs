//! Files that are not what they seem: FIFOs named like pycs, sources and pycs too large to read.

use super::{python, write};
use crate::pycache;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// Runs pycache with `args` in `dir`, failing if it takes more than ten seconds.
fn run_bounded(dir: &Path, args: &[&str], python: &Path) -> std::process::Output {
    let mut child = crate::pycache_process()
        .current_dir(dir)
        .args(args)
        .arg("--python")
        .arg(python)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("{args:?} blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_fifo_named_like_a_pyc_blocks_no_reader_and_is_reported() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    write(&tree.join("a.py"), "a = 1\n");
    write(&tree.join("b.py"), "b = 1\n");
    mkfifo(&tree.join("a.pyc"));
    std::fs::create_dir(tree.join("__pycache__")).unwrap();
    mkfifo(&tree.join(format!("__pycache__/b.{}.pyc", python.tag)));
    for args in [
        &["check", "-b", "."][..],
        &["check", "."],
        &["compile", "-b", "."],
        &["compile", "."],
    ] {
        let output = run_bounded(tree, args, &python.path);
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("FIFO") || text.contains("non-regular"),
            "{args:?}: {text}"
        );
    }
    for args in [&["clean", "-b", "."][..], &["clean", "--all", "."]] {
        let output = run_bounded(tree, args, &python.path);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(tree.join("a.pyc").exists(), "{args:?}: {stderr}");
        assert!(!stderr.contains("cannot remove"), "{args:?}: {stderr}");
    }
    let output = Command::new(assert_cmd::cargo::cargo_bin("pycache"))
        .current_dir(tree)
        .args(["inspect", "a.pyc"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("FIFO"));
}

#[test]
fn a_source_too_large_for_the_protocol_is_refused_from_its_size() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    write(&tree.join("small.py"), "x = 1\n");
    // Sparse: 5 GB on paper, nothing on disk. Reading it would take 5 GB of memory.
    std::fs::File::create(tree.join("huge.py"))
        .unwrap()
        .set_len(5 << 30)
        .unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000; exec \"$0\" compile --python \"$1\" \"$2\"")
        .arg(assert_cmd::cargo::cargo_bin("pycache"))
        .arg(&python.path)
        .arg(&tree)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("huge.py") && stderr.contains("at most"),
        "{stderr}"
    );
    assert!(
        tree.join(format!("__pycache__/small.{}.pyc", python.tag))
            .is_file()
    );
}

#[test]
fn inspect_reads_only_the_header_it_shows() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("m.py"), "x = 1\n");
    pycache()
        .args(["compile", "-q", "--python"])
        .arg(&python.path)
        .arg(dir.path())
        .assert()
        .success();
    let pyc = dir.path().join(format!("__pycache__/m.{}.pyc", python.tag));
    // A 2 GB pyc (sparse): its header is all inspect shows.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&pyc)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 300000; exec \"$0\" inspect --json \"$1\"")
        .arg(assert_cmd::cargo::cargo_bin("pycache"))
        .arg(&pyc)
        .output()
        .unwrap();
    crate::assert_success(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["pycs"][0]["payload_bytes"].as_u64().unwrap() > 2_000_000_000);
}
