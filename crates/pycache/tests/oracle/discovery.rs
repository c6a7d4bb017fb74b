//! Discovery over fake layouts (pyenv shims and versions, uv installs, virtualenvs, PATH) whose
//! executables are links to a real interpreter found here.

use crate::support::interpreters;
use pycache::interpreter::{DiscoveryOptions, candidates, find_command};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn real_python() -> PathBuf {
    std::fs::canonicalize(interpreters()[0].path()).unwrap()
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

fn bare(dir: &Path) -> DiscoveryOptions {
    let mut options = DiscoveryOptions::default();
    options.cwd = Some(dir.to_owned());
    options
}

#[test]
fn pyenv_shims_resolve_to_the_selected_version_and_are_never_listed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pyenv");
    let real = real_python();
    link(&real, &root.join("versions/9.1/bin/python3"));
    script(
        &root.join("shims/python3"),
        "#!/usr/bin/env bash\nexec pyenv exec python3 \"$@\"\n",
    );
    let system = dir.path().join("system-bin");
    link(&real, &system.join("python3"));
    let mut options = bare(dir.path());
    options.pyenv_root = Some(root.clone());
    options.path = Some(std::env::join_paths([root.join("shims"), system.clone()]).unwrap());

    options.pyenv_version = Some("9.1".into());
    assert_eq!(find_command("python3", &options), Some(real.clone()));
    // `system` falls through to the rest of PATH, as pyenv does.
    options.pyenv_version = Some("system".into());
    assert_eq!(find_command("python3", &options), Some(real.clone()));
    // No PYENV_VERSION: .python-version up from the current directory, then the global file.
    options.pyenv_version = None;
    std::fs::write(root.join("version"), "9.1\n").unwrap();
    assert_eq!(find_command("python3", &options), Some(real.clone()));
    let found = candidates(&options);
    assert!(
        found.iter().all(|p| !p.starts_with(root.join("shims"))),
        "{found:?}"
    );
    assert!(found.contains(&real), "{found:?}");
}

#[test]
fn uv_installs_and_virtualenvs_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let real = real_python();
    let uv = dir.path().join("uv-python");
    link(
        &real,
        &uv.join("cpython-9.1.0-linux-x86_64-gnu/bin/python3"),
    );
    let mut options = bare(dir.path());
    options.uv_python_dir = Some(uv);
    assert_eq!(candidates(&options), vec![real.clone()]);

    // A virtualenv keeps its own path (another sys.path), and comes first.
    let venv = dir.path().join("venv");
    link(&real, &venv.join("bin/python"));
    std::fs::write(venv.join("pyvenv.cfg"), "home = /x\n").unwrap();
    options.virtual_env = Some(venv.clone());
    let found = candidates(&options);
    assert_eq!(
        found.first(),
        Some(&std::path::absolute(venv.join("bin/python")).unwrap()),
        "{found:?}"
    );
    assert!(found.contains(&real));
}
