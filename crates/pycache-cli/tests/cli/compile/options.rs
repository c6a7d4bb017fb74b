//! Every compileall option, run by `python -m compileall` and by `pycache compile` on the same
//! tree: the same pycs at the same paths, with the same headers, `co_filename`s (`-d`, `-s`,
//! `-p`), hard links and modes. Then the skip decisions, where pycache is deliberately stricter.

use super::{Python, SNAPSHOT, files_ending, pythons};
use crate::pycache;
use crate::set_mtime;
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The fixture: files at several depths, a hidden directory, a non-.py file, a symlinked
/// directory (never followed) and a symlinked file pointing outside the tree.
fn fixture(work: &Path) {
    let t = work.join("t");
    write(&t.join("a.py"), "x = 1\n");
    write(&t.join("dup.py"), "y = 2\n");
    write(&t.join(".hidden/h.py"), "h = 1\n");
    write(
        &t.join("sub/s.py"),
        "def f():\n    'doc'\n    assert f\n    return 1\n",
    );
    write(&t.join("sub/deep/d.py"), "'''module doc'''\nassert True\n");
    write(&t.join("skip_me.py"), "s = 1\n");
    write(&t.join("notpy.txt"), "x = 1\n");
    write(&work.join("outside/o.py"), "o = 1\n");
    write(&work.join("list.txt"), "t/a.py\nt/sub\n");
    std::os::unix::fs::symlink("sub", t.join("linkdir")).unwrap();
    std::os::unix::fs::symlink("../outside/o.py", t.join("link.py")).unwrap();
}

fn remove_pycs(dir: &Path) {
    for pyc in files_ending(dir, ".pyc") {
        std::fs::remove_file(pyc).unwrap();
    }
}

fn snapshot(python: &Python, work: &Path) -> Value {
    python.json(work, SNAPSHOT, &[work.as_os_str()], "")
}

/// Option sets, each with the oldest version that has all of its options.
fn option_sets() -> Vec<((u32, u32), Vec<&'static str>)> {
    vec![
        ((3, 6), vec!["t"]),
        ((3, 6), vec!["-l", "t"]),
        ((3, 6), vec!["-r", "1", "t"]),
        ((3, 6), vec!["-l", "-r", "2", "t"]),
        ((3, 6), vec!["-b", "t"]),
        ((3, 6), vec!["-f", "t"]),
        ((3, 6), vec!["-d", "/dd", "t"]),
        ((3, 6), vec!["-d", "dd", "t/"]),
        ((3, 6), vec!["-d", "/dd", "t/a.py", "t/sub"]),
        ((3, 6), vec!["-x", "skip", "t"]),
        ((3, 6), vec!["-x", r"sub/.*\.py$", "t"]),
        ((3, 6), vec!["-i", "list.txt"]),
        ((3, 6), vec!["t/a.py", "t/notpy.txt", "t/link.py"]),
        ((3, 7), vec!["--invalidation-mode", "checked-hash", "t"]),
        ((3, 7), vec!["--invalidation-mode", "unchecked-hash", "t"]),
        ((3, 9), vec!["-s", "t", "-p", "/pp", "t"]),
        ((3, 9), vec!["-s", "t/sub", "t"]),
        ((3, 9), vec!["-p", "/pp", "t"]),
        ((3, 9), vec!["-o", "1", "t"]),
        (
            (3, 9),
            vec!["-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes", "t"],
        ),
        ((3, 9), vec!["-o", "2", "-o", "0", "t"]),
        ((3, 9), vec!["-e", "t", "t"]),
        ((3, 9), vec!["-e", ".", "t"]),
    ]
}

#[test]
fn every_option_matches_compileall() {
    for python in pythons() {
        for (since, options) in option_sets() {
            if !python.at_least(since.0, since.1) {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let work = std::fs::canonicalize(dir.path()).unwrap();
            fixture(&work);
            let mut args: Vec<&OsStr> =
                vec![OsStr::new("-m"), OsStr::new("compileall"), OsStr::new("-q")];
            args.extend(options.iter().map(OsStr::new));
            python.run(&work, &args);
            let theirs = snapshot(&python, &work);
            remove_pycs(&work);
            let ours_run = pycache()
                .current_dir(&work)
                .args(["compile", "-q", "--python"])
                .arg(&python.path)
                .args(&options)
                .env_remove("SOURCE_DATE_EPOCH")
                .env_remove("PYTHONPYCACHEPREFIX")
                .output()
                .unwrap();
            let ours = snapshot(&python, &work);
            assert_eq!(
                ours,
                theirs,
                "{} with {options:?} differs from compileall ({})",
                python.name,
                String::from_utf8_lossy(&ours_run.stderr)
            );
            assert!(
                theirs.as_object().is_some_and(|o| !o.is_empty()),
                "{} {options:?}: nothing compiled",
                python.name
            );
        }
    }
}

#[test]
fn source_date_epoch_chooses_checked_hash_like_py_compile() {
    for python in pythons().into_iter().filter(|p| p.at_least(3, 7)) {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        fixture(&work);
        let status = std::process::Command::new(&python.path)
            .current_dir(&work)
            .args(["-m", "compileall", "-q", "t"])
            .env("SOURCE_DATE_EPOCH", "1")
            .status()
            .unwrap();
        assert!(status.success());
        let theirs = snapshot(&python, &work);
        remove_pycs(&work);
        pycache()
            .current_dir(&work)
            .args(["compile", "-q", "--python"])
            .arg(&python.path)
            .arg("t")
            .env("SOURCE_DATE_EPOCH", "1")
            .assert()
            .success();
        assert_eq!(snapshot(&python, &work), theirs, "{}", python.name);
        let a = theirs["t/__pycache__/a.".to_owned() + &python.tag + ".pyc"]["header"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(&a[8..16], "03000000", "{}: checked-hash flags", python.name);
    }
}

fn pyc_identity(path: &Path) -> (u64, i64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

fn compile_ours(python: &Python, work: &Path, extra: &[&str]) -> Value {
    let output = pycache()
        .current_dir(work)
        .args(["compile", "--json", "--python"])
        .arg(&python.path)
        .args(extra)
        .arg("t")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

// Over 80 lines on purpose: per interpreter, a sequence of steps on one tree (fresh, touched,
// ...) where each step starts from the state the previous one left.
#[test]
fn skip_decisions_follow_import_not_compileall() {
    for python in pythons().into_iter().filter(|p| p.at_least(3, 7)) {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        fixture(&work);
        let a_pyc = work.join(format!("t/__pycache__/a.{}.pyc", python.tag));
        let run = |extra: &[&str]| compile_ours(&python, &work, extra)["interpreters"][0].clone();

        // Fresh after compileall: nothing to do, no Python started for it.
        python.run(
            &work,
            &[
                OsStr::new("-m"),
                OsStr::new("compileall"),
                OsStr::new("-q"),
                OsStr::new("t"),
            ],
        );
        let before = pyc_identity(&a_pyc);
        let first = run(&[]);
        assert_eq!(first["compiled"], 0, "{}: {first}", python.name);
        assert_eq!(pyc_identity(&a_pyc), before);

        // Touched: recompiled (as compileall would).
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
        set_mtime(&work.join("t/a.py"), later);
        assert_eq!(run(&[])["compiled"], 1, "{}", python.name);

        // Same mtime, other size: compileall's 12-byte check would skip it; import would not.
        let source = work.join("t/a.py");
        let mtime = std::fs::metadata(&source).unwrap().modified().unwrap();
        std::fs::write(&source, "x = 12345\n").unwrap();
        set_mtime(&source, mtime);
        let (_, out, _) = python.run(
            &work,
            &[
                OsStr::new("-m"),
                OsStr::new("compileall"),
                OsStr::new("t/a.py"),
            ],
        );
        assert!(
            !out.contains("Compiling"),
            "{}: compileall now checks the size too: {out}",
            python.name
        );
        assert_eq!(run(&[])["compiled"], 1, "{}", python.name);
        let data = std::fs::read(&a_pyc).unwrap();
        assert_eq!(
            u32::from_le_bytes(data[12..16].try_into().unwrap()),
            10,
            "{}: size in header",
            python.name
        );

        // A fresh timestamp pyc is rewritten when checked-hash is asked for (CPython #117204).
        let total = first["fresh"].as_u64().unwrap();
        assert!(total >= 6, "{}: {first}", python.name);
        assert_eq!(
            run(&["--invalidation-mode", "checked-hash"])["compiled"],
            total,
            "{}",
            python.name
        );
        assert_eq!(std::fs::read(&a_pyc).unwrap()[4], 3);
        // A fresh hash pyc is checked, not recompiled (CPython #121577).
        let before = pyc_identity(&a_pyc);
        assert_eq!(
            run(&["--invalidation-mode", "checked-hash"])["compiled"],
            0,
            "{}",
            python.name
        );
        assert_eq!(pyc_identity(&a_pyc), before);
        // ... and an edited source behind it is noticed.
        std::fs::write(&source, "x = 54321\n").unwrap();
        set_mtime(&source, mtime);
        assert_eq!(
            run(&["--invalidation-mode", "checked-hash"])["compiled"],
            1,
            "{}",
            python.name
        );
    }
}

#[test]
fn pycache_prefix_matches_compileall_under_x_pycache_prefix() {
    for python in pythons()
        .into_iter()
        .filter(|p| p.at_least(3, 8) && !p.is_pypy())
    {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        fixture(&work);
        let theirs_prefix = work.join("theirs");
        let ours_prefix = work.join("ours");
        let prefix_arg = format!("pycache_prefix={}", theirs_prefix.display());
        python.run(
            &work,
            &[
                OsStr::new("-X"),
                OsStr::new(&prefix_arg),
                OsStr::new("-m"),
                OsStr::new("compileall"),
                OsStr::new("-q"),
                OsStr::new("t"),
            ],
        );
        pycache()
            .current_dir(&work)
            .args(["compile", "-q", "--python"])
            .arg(&python.path)
            .arg("--pycache-prefix")
            .arg(&ours_prefix)
            .arg("t")
            .assert()
            .success();
        let theirs = python.json(&work, SNAPSHOT, &[theirs_prefix.as_os_str()], "");
        let ours = python.json(&work, SNAPSHOT, &[ours_prefix.as_os_str()], "");
        assert!(
            theirs.as_object().is_some_and(|o| o.len() >= 6),
            "{}: {theirs}",
            python.name
        );
        assert_eq!(ours, theirs, "{}", python.name);
        assert!(
            files_ending(&work.join("t"), ".pyc").is_empty(),
            "{}: pycs written beside the sources",
            python.name
        );
    }
}
