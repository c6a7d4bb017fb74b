//! Bad input loses nothing: each bad file gets compileall's own message naming it, every other
//! file is still compiled, the exit status is 1, no pyc is truncated and no temporary file is
//! left, also when a worker is killed, hangs, or the run is interrupted.

use super::{Python, files_ending, leftover_temp_files, pythons};
use crate::pycache;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

fn bad_tree(work: &Path, python: &Python) {
    let b = work.join("b");
    std::fs::create_dir_all(b.join("__pycache__")).unwrap();
    std::fs::create_dir_all(b.join("ro")).unwrap();
    std::fs::write(b.join("good.py"), "x = 1\n").unwrap();
    std::fs::write(b.join("good2.py"), "def f():\n    return 2\n").unwrap();
    std::fs::write(b.join("syntax.py"), "def (:\n").unwrap();
    std::fs::write(b.join("indent.py"), "x = 1\n    y = 2\n").unwrap();
    std::fs::write(b.join("nul.py"), b"x = 1\0\n").unwrap();
    std::fs::write(b.join("cookie.py"), "# -*- coding: foobar -*-\nx = 1\n").unwrap();
    std::fs::write(b.join("undecodable.py"), b"x = '\xff'\n").unwrap();
    std::fs::write(b.join("symlinked.py"), "s = 1\n").unwrap();
    std::fs::write(work.join("elsewhere.pyc"), b"precious").unwrap();
    std::os::unix::fs::symlink(
        work.join("elsewhere.pyc"),
        b.join(format!("__pycache__/symlinked.{}.pyc", python.tag)),
    )
    .unwrap();
    // A dangling symlink reads as missing, but py_compile still refuses to replace it.
    std::fs::write(b.join("dangling.py"), "g = 1\n").unwrap();
    std::os::unix::fs::symlink(
        "nowhere.pyc",
        b.join(format!("__pycache__/dangling.{}.pyc", python.tag)),
    )
    .unwrap();
    std::fs::write(b.join("dirpyc.py"), "d = 1\n").unwrap();
    std::fs::create_dir_all(b.join(format!("__pycache__/dirpyc.{}.pyc", python.tag))).unwrap();
    std::fs::write(b.join("ro/r.py"), "r = 1\n").unwrap();
    std::fs::write(b.join("ro/__pycache__"), b"not a directory").unwrap();
}

/// The number in a temporary file's name (`x.pyc.140303588082482`) differs by design.
fn without_temp_numbers(block: &str) -> String {
    let mut out = String::with_capacity(block.len());
    let mut rest = block;
    while let Some(at) = rest.find(".pyc.") {
        out.push_str(&rest[..at + 5]);
        rest = rest[at + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

/// compileall's error blocks (`*** Error compiling 'path'...` and the message).
fn error_blocks(text: &str) -> BTreeSet<String> {
    error_blocks_raw(text)
        .iter()
        .map(|b| without_temp_numbers(b))
        .collect()
}

fn error_blocks_raw(text: &str) -> BTreeSet<String> {
    let mut blocks = BTreeSet::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("*** Error compiling") {
            if let Some(block) = current.take() {
                blocks.insert(block.trim_end().to_owned());
            }
            current = Some(format!("{line}\n"));
        } else if line.starts_with("Compiling ") || line.starts_with("Listing ") {
            if let Some(block) = current.take() {
                blocks.insert(block.trim_end().to_owned());
            }
        } else if let Some(block) = &mut current {
            block.push_str(line);
            block.push('\n');
        }
    }
    if let Some(block) = current {
        blocks.insert(block.trim_end().to_owned());
    }
    blocks
}

fn all_pycs_load(python: &Python, dir: &Path) {
    let pycs: Vec<String> = files_ending(dir, ".pyc")
        .iter()
        .filter(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let header = if python.at_least(3, 7) { 16 } else { 12 };
    let script = format!(
        "import marshal, sys\nfor p in sys.argv[1:]:\n    d = open(p, 'rb').read()\n    marshal.loads(d[{header}:]) if d != b'precious' else None\nprint('ok')"
    );
    let mut args: Vec<&OsStr> = vec![OsStr::new("-c"), OsStr::new(&script)];
    args.extend(pycs.iter().map(OsStr::new));
    let (status, out, err) = python.run(dir, &args);
    assert_eq!(
        (status, out.trim()),
        (0, "ok"),
        "{}: a pyc does not load: {err}",
        python.name
    );
}

#[test]
fn bad_files_get_compileall_messages_and_the_rest_compiles() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        bad_tree(&work, &python);
        let (_, theirs, _) = python.run(
            &work,
            &[
                OsStr::new("-m"),
                OsStr::new("compileall"),
                OsStr::new("-q"),
                OsStr::new("b"),
            ],
        );
        let expected = error_blocks(&theirs);
        assert!(
            expected.len() >= 7,
            "{}: compileall reported only {expected:?}",
            python.name
        );
        for pyc in files_ending(&work.join("b"), ".pyc")
            .into_iter()
            .filter(|p| p.is_file() && !p.is_symlink())
        {
            std::fs::remove_file(pyc).unwrap();
        }
        let output = pycache()
            .current_dir(&work)
            .args(["compile", "--python"])
            .arg(&python.path)
            .args(["b", "missing_dir"])
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", python.name);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            error_blocks(&stderr),
            expected,
            "{}: messages differ from compileall's",
            python.name
        );
        assert!(
            stderr.contains("'missing_dir': No such file or directory"),
            "{}: {stderr}",
            python.name
        );
        for good in ["good", "good2"] {
            assert!(
                work.join(format!("b/__pycache__/{good}.{}.pyc", python.tag))
                    .is_file(),
                "{}: {good} not compiled",
                python.name
            );
        }
        assert_eq!(
            std::fs::read(work.join("elsewhere.pyc")).unwrap(),
            b"precious",
            "written through a symlink"
        );
        assert!(
            std::fs::symlink_metadata(
                work.join(format!("b/__pycache__/symlinked.{}.pyc", python.tag))
            )
            .unwrap()
            .file_type()
            .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(
                work.join(format!("b/__pycache__/dangling.{}.pyc", python.tag))
            )
            .unwrap()
            .file_type()
            .is_symlink(),
            "{}: a dangling symlink was replaced",
            python.name
        );
        assert!(
            leftover_temp_files(&work).is_empty(),
            "{}: temp files left",
            python.name
        );
        all_pycs_load(&python, &work);
    }
}

/// A tree big enough that a run takes a while.
fn big_tree(root: &Path, files: usize) {
    std::fs::create_dir_all(root).unwrap();
    let body: String = (0..1500)
        .map(|i| format!("def f{i}(a, b):\n    return [a * {i} + b for _ in range({i})]\n"))
        .collect();
    for i in 0..files {
        std::fs::write(root.join(format!("m{i:04}.py")), &body).unwrap();
    }
}

/// Starts `pycache ARGS --python PYTHON ROOT` in the background, its output piped.
fn spawn_pycache(args: &[&str], python: &Python, root: &Path) -> std::process::Child {
    crate::pycache_process()
        .args(args)
        .arg("--python")
        .arg(&python.path)
        .arg(root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

pub(crate) fn wait_for_children(pid: u32) -> Vec<u32> {
    for _ in 0..500 {
        let children = children_of(pid);
        if !children.is_empty() {
            return children;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no worker appeared");
}

fn default_python() -> Python {
    pythons()
        .into_iter()
        .find(|p| p.at_least(3, 11) && !p.is_pypy())
        .unwrap_or_else(|| pythons().remove(0))
}

#[test]
fn a_worker_killed_mid_run_is_replaced_and_nothing_is_lost() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("big");
    big_tree(&root, 120);
    let child = spawn_pycache(&["compile", "-q", "-j", "2"], &python, &root);
    wait_for_children(child.id());
    // Killed once the workers are compiling (a few pycs written), not while they start: a
    // worker that dies before its greeting is a broken interpreter, reported, not retried.
    let pycache = root.join("__pycache__");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&pycache).map_or(0, Iterator::count) < 4 {
        assert!(std::time::Instant::now() < deadline, "no pyc appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let victim = children_of(child.id())[0];
    let victim = rustix::process::Pid::from_raw(victim as i32).expect("a worker's pid");
    rustix::process::kill_process(victim, rustix::process::Signal::KILL)
        .expect("the worker was still running when killed");
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        files_ending(&root, ".pyc").len(),
        120,
        "every file compiled (the killed worker's file was retried)"
    );
    assert!(leftover_temp_files(&root).is_empty());
    all_pycs_load(&python, &root);
}

#[test]
fn interrupting_a_run_leaves_only_whole_pycs() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("big");
    big_tree(&root, 300);
    let child = spawn_pycache(&["compile", "-j", "2"], &python, &root);
    let workers = wait_for_children(child.id());
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Interrupting the run under test, as Ctrl-C would.
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|l| l.ends_with(": interrupted")) && !stderr.contains("[interrupted]"),
        "{stderr}"
    );
    let written = files_ending(&root, ".pyc").len();
    assert!(written < 300, "the run stopped early ({written} written)");
    assert!(leftover_temp_files(&root).is_empty());
    all_pycs_load(&python, &root);
    // No worker outlives the run.
    std::thread::sleep(std::time::Duration::from_millis(100));
    for pid in workers {
        assert!(
            !crate::faults::workers::alive(pid),
            "worker {pid} still running"
        );
    }
}

#[test]
fn a_file_that_takes_too_long_fails_alone() {
    let python = default_python();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("small.py"), "x = 1\n").unwrap();
    let huge: String = (0..300_000)
        .map(|i| format!("v{i} = {i} * 2 + 1\n"))
        .collect();
    std::fs::write(root.join("huge.py"), huge).unwrap();
    let output = pycache()
        .args(["compile", "--timeout", "0.5", "-j", "1", "--python"])
        .arg(&python.path)
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("huge.py") && stderr.contains("timed out"),
        "{stderr}"
    );
    assert!(
        root.join(format!("__pycache__/small.{}.pyc", python.tag))
            .is_file()
    );
    assert!(
        !root
            .join(format!("__pycache__/huge.{}.pyc", python.tag))
            .exists()
    );
    assert!(leftover_temp_files(&root).is_empty());
}

#[test]
fn a_read_only_pycache_is_reported() {
    // Permissions do not stop root, which CI runs as: there the run drops to `nobody` with
    // setpriv (and an interpreter nobody can run: a system one, not one under /root).
    use std::os::unix::fs::PermissionsExt;
    let as_root = rustix::process::geteuid().is_root();
    let python = if as_root {
        pythons()
            .into_iter()
            .find(|p| p.path.starts_with("/usr/"))
            .expect("a system interpreter under /usr, runnable by nobody")
    } else {
        default_python()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path().join("t");
    std::fs::create_dir_all(root.join("__pycache__")).unwrap();
    std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
    std::fs::set_permissions(
        root.join("__pycache__"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut command = if as_root {
        let mut command = std::process::Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("pycache"));
        command
    } else {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pycache"))
    };
    let output = command
        .args(["compile", "--python"])
        .arg(&python.path)
        .arg(&root)
        .env("PYCACHE_CACHE_DIR", &cache)
        .env("HOME", &cache)
        .output()
        .unwrap();
    std::fs::set_permissions(
        root.join("__pycache__"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("PermissionError"), "{stderr}");
}
