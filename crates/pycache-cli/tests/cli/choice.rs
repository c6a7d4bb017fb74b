//! Choosing interpreters: what a bare version means, which of several is preferred, what
//! `interpreters` lists, what `--python all` selects, and what is refused.

use crate::compile::{Python, pythons};
use crate::{assert_success, pycache};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn required() -> bool {
    std::env::var_os("PYCACHE_TEST_REQUIRE_INTERPRETERS").is_some()
}

fn link(target: &Path, at: &Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, at).unwrap();
}

fn script(at: &Path, text: &str) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::write(at, text).unwrap();
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn minor(python: &Python) -> String {
    format!("{}.{}", python.version.0, python.version.1)
}

/// The interpreter a `compile --json` run used.
fn chosen(request: &str, env: &[(&str, &std::ffi::OsStr)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.py"), "x = 1\n").unwrap();
    let mut command = pycache();
    command
        .args(["compile", "--json", "--python", request])
        .arg(dir.path());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert_success(&output);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    summary["interpreters"][0]["interpreter"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_bare_version_means_cpython_and_pypy_only_by_name() {
    let pythons = pythons();
    let pypys: Vec<&Python> = pythons.iter().filter(|p| p.is_pypy()).collect();
    assert!(!pypys.is_empty() || !required(), "no PyPy found");
    for pypy in pypys {
        let version = minor(pypy);
        let cpython = pythons.iter().any(|p| !p.is_pypy() && minor(p) == version);
        let output = pycache()
            .args(["tag", "--python", &version])
            .output()
            .unwrap();
        if cpython {
            assert_success(&output);
            let tag = String::from_utf8(output.stdout).unwrap();
            assert!(tag.starts_with("cpython-"), "--python {version} gave {tag}");
        } else {
            assert_eq!(output.status.code(), Some(2));
        }
        pycache()
            .args(["tag", "--python", &format!("pypy{version}")])
            .assert()
            .success()
            .stdout(format!("{}\n", pypy.tag));
    }
}

/// Two CPythons of one minor version, older first; a fake pyenv whose versions `old` and
/// `new` link to them; PATH holding only its shims.
fn pyenv_with_two_of_one_version(dir: &Path) -> Option<(Python, Python, PathBuf)> {
    let mut cpythons: Vec<Python> = pythons().into_iter().filter(|p| !p.is_pypy()).collect();
    cpythons.sort_by_key(|p| (p.version, p.name.clone()));
    let pair = cpythons
        .windows(2)
        .find(|w| w[0].version == w[1].version)
        .map(|w| (w[0].clone(), w[1].clone()));
    let Some((old, new)) = pair else {
        assert!(
            !required(),
            "no two CPythons of one version to choose between"
        );
        return None;
    };
    let root = dir.join("pyenv");
    let name = format!("python{}", minor(&old));
    for (version, python) in [("old", &old), ("new", &new)] {
        let real = std::fs::canonicalize(&python.path).unwrap();
        link(
            &real,
            &root.join("versions").join(version).join("bin").join(&name),
        );
    }
    script(
        &root.join("shims").join(&name),
        "#!/bin/sh\necho a shim must never be run >&2\nexit 99\n",
    );
    Some((old, new, root))
}

#[test]
fn a_version_prefers_what_its_command_on_path_runs_then_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let Some((old, new, root)) = pyenv_with_two_of_one_version(dir.path()) else {
        return;
    };
    let cache = dir.path().join("cache");
    let shims = root.join("shims").into_os_string();
    let env = |version: &str| {
        std::fs::write(root.join("version"), format!("{version}\n")).unwrap();
        vec![
            ("PYENV_ROOT", root.as_os_str().to_owned()),
            ("PATH", shims.clone()),
            ("PYCACHE_CACHE_DIR", cache.as_os_str().to_owned()),
        ]
    };
    let run = |version: &str| {
        let env = env(version);
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        chosen(&minor(&old), &env)
    };
    // pyenv selects the older one: python3.X on PATH runs it, so it wins over the newest.
    assert_eq!(run("old"), old.name);
    assert_eq!(run("new"), new.name);
    // The shim selects nothing: the newest patch.
    assert_eq!(run("system"), new.name);
}

#[test]
fn interpreters_lists_each_executable_once_sorted_with_the_default_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let python = crate::compile::default_python();
    let real = std::fs::canonicalize(&python.path).unwrap();
    let alias = dir.path().join("bin").join("python3");
    link(&real, &alias);
    let path = std::env::join_paths(
        std::iter::once(dir.path().join("bin"))
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let output = pycache()
        .args(["interpreters", "--json"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_success(&output);
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["version"], 1);
    let rows = list["interpreters"].as_array().unwrap();
    let reals: Vec<PathBuf> = rows
        .iter()
        .map(|r| std::fs::canonicalize(r["path"].as_str().unwrap()).unwrap())
        .collect();
    let mut unique = reals.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        reals.len(),
        "one row per executable: {reals:?}"
    );
    let keys: Vec<(String, Vec<u32>)> = rows
        .iter()
        .map(|r| {
            let numbers = r["version"]
                .as_str()
                .unwrap()
                .split('.')
                .map(|n| n.parse().unwrap())
                .collect();
            (r["implementation"].as_str().unwrap().to_owned(), numbers)
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "sorted by implementation, then version");
    let defaults: Vec<&Value> = rows.iter().filter(|r| r["default"] == true).collect();
    assert_eq!(defaults.len(), 1, "{rows:?}");
    assert_eq!(
        std::fs::canonicalize(defaults[0]["path"].as_str().unwrap()).unwrap(),
        real
    );
    assert!(
        defaults[0]["aliases"]
            .as_array()
            .unwrap()
            .contains(&Value::from(alias.to_str().unwrap())),
        "{}",
        defaults[0]
    );
    let table = pycache()
        .arg("interpreters")
        .env("PATH", &path)
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    let marked: Vec<&str> = table.lines().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(marked.len(), 2, "the default row and the legend: {table}");
    assert!(
        marked[0].contains("also ") && marked[0].contains("python3"),
        "{table}"
    );
}

#[test]
fn all_compiles_each_cache_tag_once_and_says_what_it_left_out() {
    let pythons = pythons();
    let mut tags: Vec<&str> = pythons.iter().map(|p| p.tag.as_str()).collect();
    tags.sort_unstable();
    tags.dedup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.py"), "x = 1\n").unwrap();
    let output = pycache()
        .args(["compile", "--json", "--python", "all"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&output);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut used: Vec<&str> = summary["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["cache_tag"].as_str().unwrap())
        .collect();
    used.sort_unstable();
    assert_eq!(used, tags, "each tag once");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let left_out = stderr
        .lines()
        .filter(|l| {
            l.starts_with("pycache: note: --python all leaves out") && l.contains("same cache tag")
        })
        .count();
    assert_eq!(left_out + tags.len(), pythons.len(), "{stderr}");
}

#[test]
fn path_and_source_for_all_label_each_line_and_python_2_does_not_fail_them() {
    let tags: Vec<String> = {
        let mut tags: Vec<String> = pythons().into_iter().map(|p| p.tag).collect();
        tags.sort();
        tags.dedup();
        tags
    };
    let output = pycache()
        .args(["path", "--python", "all", "pkg/m.py"])
        .output()
        .unwrap();
    assert_success(&output);
    let lines: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), tags.len(), "{lines:?}");
    for line in &lines {
        let (label, path) = line.split_once(": ").unwrap();
        assert!(
            label.starts_with("cpython-") || label.starts_with("pypy-"),
            "{line}"
        );
        assert!(path.starts_with("pkg/__pycache__/m."), "{line}");
    }
    let pyc = lines[0].split_once(": ").unwrap().1;
    let output = pycache()
        .args(["source", "--python", "all", pyc])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .all(|l| l.ends_with(": pkg/m.py")),
    );
}

/// A script that answers the probe as `python3` does, but as Python 2.7 without a cache tag.
fn fake_python_2(dir: &Path) -> PathBuf {
    let real = std::fs::canonicalize(crate::compile::default_python().path).unwrap();
    let fake = dir.join("python2.7");
    script(
        &fake,
        &format!(
            "#!/bin/sh\n'{}' \"$@\" | sed -e 's/\"version\": \"[0-9.]*\"/\"version\": \"2.7.18\"/' -e 's/\"cache_tag\": \"[^\"]*\"/\"cache_tag\": null/'\n",
            real.display()
        ),
    );
    fake
}

#[test]
fn python_2_is_refused_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_python_2(dir.path());
    std::fs::write(dir.path().join("m.py"), "x = 1\n").unwrap();
    for command in [&["tag"][..], &["compile", "-b"], &["check"]] {
        let output = pycache()
            .args(command)
            .arg("--python")
            .arg(&fake)
            .args(if command[0] == "tag" {
                vec![]
            } else {
                vec![dir.path()]
            })
            .env("PYCACHE_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("CPython 2.7.18 is not supported")
                && stderr.contains("CPython 3.6+ and PyPy 3"),
            "{stderr}"
        );
    }
}

#[test]
fn a_program_that_is_not_python_is_named_so_without_the_probe() {
    let output = pycache()
        .args(["tag", "--python", "/bin/ls"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/bin/ls: not a Python interpreter"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("probe.py") && !stderr.contains("import"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_version_lists_what_was_found_and_where_to_look() {
    let output = pycache()
        .args(["tag", "--python", "3.99"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for python in pythons() {
        let shown = python
            .name
            .replace("cpython-", "CPython ")
            .replace("pypy-", "PyPy ");
        assert!(stderr.contains(&shown), "{shown} not in {stderr}");
    }
    assert!(stderr.contains("`pycache interpreters`"), "{stderr}");
}
