//! After `pycache compile --python all`, every interpreter imports the compiled modules
//! without rewriting a single pyc, the pycs of every version sit side by side, and
//! `module.__cached__` is what `pycache path` says.

use super::{files_ending, pythons};
use crate::assert_success;
use crate::pycache;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn state(root: &Path) -> BTreeMap<String, (Vec<u8>, i64, i64)> {
    files_ending(root, ".pyc")
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap();
            (
                p.to_string_lossy().into_owned(),
                (std::fs::read(&p).unwrap(), m.mtime(), m.mtime_nsec()),
            )
        })
        .collect()
}

// Over 80 lines on purpose: one scenario (compile a package for every interpreter, then import
// it in each and check nothing is rewritten) whose steps share one tree.
#[test]
fn every_interpreter_imports_without_rewriting() {
    let pythons = pythons();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write(
        &root.join("top.py"),
        "import mypkg.mod\nVALUE = mypkg.mod.f()\n",
    );
    write(&root.join("mypkg/__init__.py"), "'''package'''\n");
    write(
        &root.join("mypkg/mod.py"),
        "def f():\n    return [i * i for i in range(3)]\n",
    );
    let output = pycache()
        .args(["compile", "--python", "all"])
        .arg(&root)
        .output()
        .unwrap();
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("pycache: note: --python all leaves out")),
        "a clean run says only what --python all left out: {stderr}"
    );
    for python in &pythons {
        let pyc = root.join(format!("mypkg/__pycache__/mod.{}.pyc", python.tag));
        assert!(pyc.is_file(), "{}: {} missing", python.name, pyc.display());
    }
    let before = state(&root);
    for python in &pythons {
        let script = format!(
            "import sys; sys.path.insert(0, {:?}); import top, mypkg, mypkg.mod; print(top.__cached__); print(mypkg.__cached__); print(mypkg.mod.__cached__); assert top.VALUE == [0, 1, 4]",
            root.to_str().unwrap()
        );
        let output = std::process::Command::new(&python.path)
            .arg("-v")
            .arg("-c")
            .arg(&script)
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            python.name,
            String::from_utf8_lossy(&output.stderr)
        );
        let verbose = String::from_utf8_lossy(&output.stderr);
        if !python.is_pypy() {
            for module in ["top", "__init__", "mod"] {
                let needle = format!("{module}.{}.pyc matches", python.tag);
                assert!(
                    verbose.contains(&needle),
                    "{}: no '{needle}' in -v output",
                    python.name
                );
            }
            assert!(
                !verbose.contains("wrote"),
                "{}: import wrote a pyc",
                python.name
            );
        }
        let cached: Vec<&str> = std::str::from_utf8(&output.stdout)
            .unwrap()
            .lines()
            .collect();
        for (module, line) in ["top.py", "mypkg/__init__.py", "mypkg/mod.py"]
            .iter()
            .zip(&cached)
        {
            let ours = pycache()
                .args(["path", "--python"])
                .arg(&python.path)
                .arg(root.join(module))
                .output()
                .unwrap();
            assert_eq!(
                std::str::from_utf8(&ours.stdout).unwrap().trim(),
                *line,
                "{} {module}",
                python.name
            );
        }
        assert_eq!(
            state(&root),
            before,
            "{}: import rewrote a pyc",
            python.name
        );
    }
}
