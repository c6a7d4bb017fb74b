//! `pycache compile` against `python -m compileall` and `py_compile`, for every interpreter.

pub(crate) mod bad_input;
mod import;
mod options;
mod output;
mod reproducible;
mod stdlib;

use crate::pycache;
use crate::set_mtime;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An interpreter found by `pycache interpreters --json`, with a cache tag.
#[derive(Debug, Clone)]
pub(crate) struct Python {
    pub(crate) path: PathBuf,
    pub(crate) version: (u32, u32),
    pub(crate) name: String,
    pub(crate) tag: String,
}

pub(crate) fn pythons() -> Vec<Python> {
    let output = pycache().args(["interpreters", "--json"]).output().unwrap();
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<Python> = list["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["cache_tag"].is_null())
        .map(|i| {
            let version: Vec<u32> = i["version"]
                .as_str()
                .unwrap()
                .split('.')
                .map(|p| p.parse().unwrap())
                .collect();
            Python {
                path: PathBuf::from(i["path"].as_str().unwrap()),
                version: (version[0], version[1]),
                name: format!(
                    "{}-{}",
                    i["implementation"].as_str().unwrap(),
                    i["version"].as_str().unwrap()
                ),
                tag: i["cache_tag"].as_str().unwrap().to_owned(),
            }
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

/// The interpreter `python3` on PATH really is (pyenv's shim resolved by running it).
pub(crate) fn default_python() -> Python {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let real = std::fs::canonicalize(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    pythons()
        .into_iter()
        .find(|p| std::fs::canonicalize(&p.path).ok().as_ref() == Some(&real))
        .expect("python3 is among the interpreters found")
}

impl Python {
    pub(crate) fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }

    pub(crate) fn is_pypy(&self) -> bool {
        self.name.starts_with("pypy")
    }

    /// Runs this interpreter in `dir` and returns (status, stdout, stderr).
    pub(crate) fn run(&self, dir: &Path, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
        let output = std::process::Command::new(&self.path)
            .args(args)
            .current_dir(dir)
            .env("LC_ALL", "C.UTF-8")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("PYTHONPYCACHEPREFIX")
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The JSON a script prints.
    pub(crate) fn json(
        &self,
        dir: &Path,
        script: &str,
        args: &[&std::ffi::OsStr],
        stdin: &str,
    ) -> Value {
        use std::io::Write;
        let mut child = std::process::Command::new(&self.path)
            .arg("-c")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// Copies the `.py` files under `from` (skipping directories `skip` says no to) into `to`,
/// keeping each file's mtime to the nanosecond, so both compilers see the same stat.
pub(crate) fn copy_sources(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> usize {
    let mut copied = 0;
    let Ok(entries) = std::fs::read_dir(from) else {
        return 0;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !skip(&path) && entry.file_name() != "__pycache__" {
                copied += copy_sources(&path, &to.join(entry.file_name()), skip);
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "py") {
            std::fs::create_dir_all(to).unwrap();
            let target = to.join(entry.file_name());
            std::fs::copy(&path, &target).unwrap();
            let metadata = entry.metadata().unwrap();
            let mtime = std::time::UNIX_EPOCH
                + std::time::Duration::new(metadata.mtime() as u64, metadata.mtime_nsec() as u32);
            set_mtime(&target, mtime);
            copied += 1;
        }
    }
    copied
}

/// Every file under `dir` whose name ends with `suffix`.
pub(crate) fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = files_named(dir, &|name| name.ends_with(suffix));
    out.sort();
    out
}

/// Temporary files of interrupted atomic writes (`<name>.pyc.<digits>`).
pub(crate) fn leftover_temp_files(dir: &Path) -> Vec<PathBuf> {
    files_named(dir, &|name| {
        name.rsplit_once(".pyc.").is_some_and(|(_, digits)| {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// Every file under `dir` (recursively) whose name passes `keep`.
fn files_named(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_named(&path, keep));
        } else if keep(&entry.file_name().to_string_lossy()) {
            out.push(path);
        }
    }
    out
}

pub(crate) const COMPARE: &str = include_str!("compare_pycs.py");
pub(crate) const SNAPSHOT: &str = include_str!("snapshot.py");

/// A shell script in `dir` that runs `python` and counts its starts; its path and the count
/// file's.
pub(crate) fn counting_python(dir: &Path, python: &Python) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let counter = dir.join(format!("starts-{}", python.name));
    let wrapper = dir.join(format!("counting-{}", python.name));
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho start >> '{}'\nexec '{}' \"$@\"\n",
            counter.display(),
            python.path.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    (wrapper, counter)
}

/// How many times a [`counting_python`] started.
pub(crate) fn starts_of(counter: &Path) -> usize {
    std::fs::read_to_string(counter).map_or(0, |s| s.lines().count())
}

/// `python -v` runs `script` in `root` and imports each of `modules` from its pyc
/// (`matches`), writing none.
pub(crate) fn assert_imports_with_matches(
    python: &Python,
    root: &Path,
    script: &str,
    modules: &[&str],
) {
    let output = std::process::Command::new(&python.path)
        .args(["-v", "-c", script])
        .current_dir(root)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("PYTHONPYCACHEPREFIX")
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {verbose}", python.name);
    for module in modules {
        let needle = format!("{module}.{}.pyc matches", python.tag);
        assert!(verbose.contains(&needle), "{}: no '{needle}'", python.name);
    }
    assert!(
        !verbose.contains("wrote"),
        "{}: import wrote a pyc",
        python.name
    );
}
