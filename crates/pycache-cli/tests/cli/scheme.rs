//! `pycache interpreters`, `tag`, `path` and `source` against the interpreters themselves.

use crate::assert_success;
use crate::{interpreter_paths, pycache, python_output};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[test]
fn interpreters_table_and_json_agree() {
    let found = interpreter_paths();
    let table = pycache().arg("interpreters").output().unwrap();
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    for (version, path) in &found {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == path.to_string_lossy()))
            .unwrap_or_else(|| panic!("{} not listed: {text}", path.display()));
        assert!(line.contains(version.as_str()), "{line}");
        // The executable really is that version.
        let real = python_output(
            path,
            &[
                OsStr::new("-c"),
                OsStr::new("import sys; print('%d.%d.%d' % sys.version_info[:3])"),
            ],
        );
        assert_eq!(String::from_utf8(real).unwrap().trim(), version);
    }
    for line in text.lines() {
        assert!(!line.contains("/shims/"), "a pyenv shim was listed: {line}");
    }
}

#[test]
fn default_tag_is_python3s_own() {
    let ours = pycache().arg("tag").output().unwrap();
    assert_success(&ours);
    let theirs = python_output(
        Path::new("python3"),
        &[
            OsStr::new("-c"),
            OsStr::new("import sys; print(sys.implementation.cache_tag)"),
        ],
    );
    assert_eq!(ours.stdout, theirs);
}

#[test]
fn tag_for_each_interpreter_by_path_and_version() {
    for (version, path) in interpreter_paths() {
        let theirs = python_output(
            &path,
            &[
                OsStr::new("-c"),
                OsStr::new("import sys; print(sys.implementation.cache_tag)"),
            ],
        );
        pycache()
            .args(["tag", "--python"])
            .arg(&path)
            .assert()
            .success()
            .stdout(theirs.clone());
        // A full version names exactly one interpreter family; its tag is the same. A bare
        // version means CPython: PyPy is asked for by name.
        let request = if String::from_utf8_lossy(&theirs).starts_with("pypy") {
            format!("pypy{version}")
        } else {
            version.clone()
        };
        let by_version = pycache()
            .args(["tag", "--python", &request])
            .output()
            .unwrap();
        assert!(by_version.status.success());
        assert_eq!(by_version.stdout, theirs, "--python {version}");
    }
}

const CFS: &str = "import sys, os, importlib.util as u\n\
for a in sys.argv[1:]:\n    p = os.fsdecode(os.fsencode(a))\n    \
try: sys.stdout.buffer.write(os.fsencode(u.cache_from_source(p, optimization=os.environ.get('OPT') or None) if os.environ.get('OPT') is not None else u.cache_from_source(p)) + b'\\n')\n    \
except Exception as e: sys.stdout.buffer.write(('%s: %s' % (type(e).__name__, e)).encode() + b'\\n')\n";

const SFC: &str = "import sys, os, importlib.util as u\n\
for a in sys.argv[1:]:\n    p = os.fsdecode(os.fsencode(a))\n    \
try: sys.stdout.buffer.write(os.fsencode(u.source_from_cache(p)) + b'\\n')\n    \
except Exception as e: sys.stdout.buffer.write(('%s: %s' % (type(e).__name__, e)).encode() + b'\\n')\n";

#[test]
fn path_and_source_match_importlib_including_non_utf8_names() {
    let sources: Vec<&OsStr> = vec![
        OsStr::new("a/b.py"),
        OsStr::from_bytes(b"d\xff/m\xfe.py"),
        OsStr::new("/srv/x/é.py"),
        OsStr::new("noext"),
    ];
    for (_, python) in interpreter_paths() {
        let mut args = vec![OsStr::new("-c"), OsStr::new(CFS)];
        args.extend(sources.iter().copied());
        let theirs = python_output(&python, &args);
        let ours = pycache()
            .arg("path")
            .arg("--python")
            .arg(&python)
            .args(&sources)
            .env_remove("PYTHONPYCACHEPREFIX")
            .output()
            .unwrap();
        assert_success(&ours);
        assert_eq!(ours.stdout, theirs, "{}", python.display());
        // And back again.
        let pycs: Vec<&OsStr> = ours
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(OsStr::from_bytes)
            .collect();
        let back = pycache()
            .arg("source")
            .arg("--python")
            .arg(&python)
            .args(&pycs)
            .output()
            .unwrap();
        let mut args = vec![OsStr::new("-c"), OsStr::new(SFC)];
        args.extend(pycs.iter().copied());
        let theirs = python_output(&python, &args);
        let (answers, errors): (Vec<&[u8]>, Vec<&[u8]>) = theirs
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .partition(|l| !l.starts_with(b"ValueError"));
        let expected: Vec<u8> = answers.iter().flat_map(|l| [*l, b"\n"].concat()).collect();
        assert_eq!(back.stdout, expected, "{}", python.display());
        assert_eq!(
            back.status.code(),
            Some(if errors.is_empty() { 0 } else { 1 })
        );
        let stderr = String::from_utf8_lossy(&back.stderr);
        for error in errors {
            assert!(
                stderr.contains(&*String::from_utf8_lossy(error)),
                "{stderr}"
            );
        }
    }
}

#[test]
fn a_rejected_input_is_reported_and_the_others_answered() {
    let output = pycache()
        .args(["path", "--tag", "cpython-312", "-o", "x-y", "ok.py"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("'ok.py': ValueError: 'x-y' is not alphanumeric"),
        "{stderr}"
    );

    let output = pycache()
        .args([
            "source",
            "--tag",
            "cpython-312",
            "bad.pyc",
            "__pycache__/good.cpython-312.pyc",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(output.stdout, b"good.py\n");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr
            .contains("'bad.pyc': ValueError: __pycache__ not bottom-level directory in 'bad.pyc'"),
        "{stderr}"
    );
}

#[test]
fn optimization_levels_and_legacy_names() {
    for (_, python) in interpreter_paths() {
        let opt2 = std::process::Command::new(&python)
            .args(["-c", CFS, "p/m.py"])
            .env("OPT", "2")
            .output()
            .unwrap();
        pycache()
            .arg("path")
            .arg("--python")
            .arg(&python)
            .args(["-o", "2", "p/m.py"])
            .assert()
            .success()
            .stdout(opt2.stdout);
    }
    pycache()
        .args(["path", "--tag", "cpython-313", "-b", "p/m.py"])
        .assert()
        .success()
        .stdout("p/m.pyc\n");
}

#[test]
fn pycache_prefix_from_the_environment_and_the_flag() {
    for (version, python) in interpreter_paths() {
        let theirs = std::process::Command::new(&python)
            .args(["-c", CFS, "rel/m.py", "/abs/m.py"])
            .env("PYTHONPYCACHEPREFIX", "/tmp/pfx")
            .output()
            .unwrap();
        let ours = pycache()
            .arg("path")
            .arg("--python")
            .arg(&python)
            .args(["rel/m.py", "/abs/m.py"])
            .env("PYTHONPYCACHEPREFIX", "/tmp/pfx")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{version}"
        );
        let flag = pycache()
            .arg("path")
            .arg("--python")
            .arg(&python)
            .args(["--pycache-prefix", "/tmp/pfx", "rel/m.py", "/abs/m.py"])
            .env_remove("PYTHONPYCACHEPREFIX")
            .output()
            .unwrap();
        assert_eq!(flag.stdout, theirs.stdout, "{version}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pycache"))
        .args(["path", "--tag", "cpython-312"])
        .args((0..20_000).map(|i| format!("m{i}.py")))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
