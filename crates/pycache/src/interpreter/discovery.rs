//! Finding interpreters the way users expect: the active virtualenv, `PATH`, pyenv, uv-managed
//! installs and the system directories.
//!
//! pyenv's shims are shell scripts that pick a version at run time; they are never interpreters.
//! A shim met on `PATH` is resolved the way pyenv would (`PYENV_VERSION`, then `.python-version`
//! up from the current directory, then `$PYENV_ROOT/version`), and any other script is skipped.
//! Executables are de-duplicated by the file they resolve to, except a virtualenv's `python`,
//! which keeps its own path: it is the same binary as its base but has another `sys.path`.

use super::{Interpreter, InterpreterError};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where to look for interpreters. [`DiscoveryOptions::from_env`] reads the process environment;
/// tests start from [`Default`] (nothing set) and set the fields they need (new fields may be
/// added, so the struct cannot be built with a literal outside this crate).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DiscoveryOptions {
    /// `$VIRTUAL_ENV`.
    pub virtual_env: Option<PathBuf>,
    /// `$PATH`.
    pub path: Option<OsString>,
    /// `$PYENV_ROOT`, else `~/.pyenv`.
    pub pyenv_root: Option<PathBuf>,
    /// `$PYENV_VERSION`.
    pub pyenv_version: Option<String>,
    /// uv's managed-Python directory (`$UV_PYTHON_INSTALL_DIR`, else
    /// `$XDG_DATA_HOME/uv/python`, else `~/.local/share/uv/python`).
    pub uv_python_dir: Option<PathBuf>,
    /// Extra directories searched last (`/usr/local/bin`, `/usr/bin`).
    pub system_dirs: Vec<PathBuf>,
    /// Where `.python-version` files are looked for (the current directory).
    pub cwd: Option<PathBuf>,
}

impl DiscoveryOptions {
    /// The options of the current process environment.
    pub fn from_env() -> Self {
        let env_path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = env_path("HOME");
        DiscoveryOptions {
            virtual_env: env_path("VIRTUAL_ENV"),
            path: std::env::var_os("PATH"),
            pyenv_root: env_path("PYENV_ROOT").or_else(|| home.as_ref().map(|h| h.join(".pyenv"))),
            pyenv_version: std::env::var("PYENV_VERSION")
                .ok()
                .filter(|v| !v.is_empty()),
            uv_python_dir: env_path("UV_PYTHON_INSTALL_DIR")
                .or_else(|| env_path("XDG_DATA_HOME").map(|d| d.join("uv").join("python")))
                .or_else(|| home.as_ref().map(|h| h.join(".local/share/uv/python"))),
            system_dirs: vec![PathBuf::from("/usr/local/bin"), PathBuf::from("/usr/bin")],
            cwd: std::env::current_dir().ok(),
        }
    }

    fn path_dirs(&self) -> Vec<PathBuf> {
        self.path
            .as_deref()
            .map(|p| {
                std::env::split_paths(p)
                    .filter(|d| !d.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn is_pyenv_shims(&self, dir: &Path) -> bool {
        dir.file_name() == Some(OsStr::new("shims"))
            && (self
                .pyenv_root
                .as_deref()
                .is_some_and(|root| dir.starts_with(root))
                || dir.join("..").join("versions").is_dir()
                || dir.to_string_lossy().contains("pyenv"))
    }

    /// The pyenv versions selected for the current directory, in order.
    fn pyenv_selected_versions(&self) -> Vec<String> {
        let split = |text: &str| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        if let Some(version) = &self.pyenv_version {
            return version.split(':').map(str::to_owned).collect();
        }
        let mut dir = self.cwd.clone();
        while let Some(current) = dir {
            if let Ok(text) = std::fs::read_to_string(current.join(".python-version")) {
                return split(&text);
            }
            dir = current.parent().map(Path::to_owned);
        }
        self.pyenv_root
            .as_ref()
            .and_then(|root| std::fs::read_to_string(root.join("version")).ok())
            .map(|text| split(&text))
            .unwrap_or_else(|| vec!["system".to_owned()])
    }
}

/// True for names of Python executables: `python`, `python3`, `python3.12`, `python3.13t`,
/// `pypy`, `pypy3`, `pypy3.10`.
fn is_python_name(name: &[u8]) -> bool {
    let rest = if let Some(rest) = name.strip_prefix(b"python") {
        rest
    } else if let Some(rest) = name.strip_prefix(b"pypy") {
        rest
    } else {
        return false;
    };
    let rest = rest.strip_suffix(b"t").unwrap_or(rest);
    let mut parts = rest.split(|&b| b == b'.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next();
    parts.next().is_none()
        && (rest.is_empty()
            || (!major.is_empty()
                && major.iter().all(u8::is_ascii_digit)
                && minor.is_none_or(|m| !m.is_empty() && m.iter().all(u8::is_ascii_digit))))
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A script (`#!` first) is a launcher or a shim, never an interpreter binary.
fn is_script(path: &Path) -> bool {
    let mut start = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!")
}

/// The identity an executable is de-duplicated by (see the module docs).
fn identity(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let in_virtualenv = absolute
        .parent()
        .and_then(Path::parent)
        .is_some_and(|env| env.join("pyvenv.cfg").is_file());
    if in_virtualenv {
        Some(absolute)
    } else {
        std::fs::canonicalize(&absolute).ok()
    }
}

/// Looks `name` up on `PATH` as a shell would, resolving pyenv shims to the real executable.
pub fn find_command(name: &str, options: &DiscoveryOptions) -> Option<PathBuf> {
    for dir in options.path_dirs() {
        let candidate = dir.join(name);
        if !is_executable_file(&candidate) {
            continue;
        }
        if options.is_pyenv_shims(&dir) {
            let root = options
                .pyenv_root
                .clone()
                .or_else(|| dir.parent().map(Path::to_owned))?;
            for version in options.pyenv_selected_versions() {
                if version == "system" {
                    break; // pyenv falls through to the rest of PATH
                }
                let real = root.join("versions").join(&version).join("bin").join(name);
                if is_executable_file(&real) {
                    return identity(&real);
                }
            }
            continue;
        }
        if is_script(&candidate) {
            continue;
        }
        return identity(&candidate);
    }
    None
}

fn python_executables_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| is_python_name(entry.file_name().as_bytes()))
        .map(|entry| entry.path())
        .filter(|path| is_executable_file(path) && !is_script(path))
        .collect();
    found.sort();
    found
}

fn versions_under(root: &Path, bin: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join(bin))
        .collect();
    dirs.sort();
    dirs
}

/// One interpreter executable found, with the other names that run it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// The executable: its real path, or a virtualenv's own `bin/python...` path.
    pub path: PathBuf,
    /// Other paths found that run the same executable (`python3` beside `python3.12`, a
    /// virtualenv's `python3` beside its `python`), in the order met.
    pub aliases: Vec<PathBuf>,
}

/// The key executables are grouped by: the real path, and for a virtualenv also the
/// environment (its `python` runs its base's binary with another `sys.path`).
fn group_key(path: &Path) -> Option<(Option<PathBuf>, PathBuf)> {
    let id = identity(path)?;
    let real = std::fs::canonicalize(&id).ok()?;
    let env = (id != real).then(|| id.parent().and_then(Path::parent).map(Path::to_owned));
    Some((env.flatten(), real))
}

/// True when `a` and `b` run the same executable in the same environment.
pub fn same_executable(a: &Path, b: &Path) -> bool {
    group_key(a).is_some_and(|key| Some(key) == group_key(b))
}

/// Every interpreter executable found, de-duplicated, in the order: `$VIRTUAL_ENV`, `PATH`,
/// pyenv versions, uv-managed installs, system directories. Nothing is run.
pub fn candidates(options: &DiscoveryOptions) -> Vec<PathBuf> {
    candidates_with_aliases(options)
        .into_iter()
        .map(|c| c.path)
        .collect()
}

/// [`candidates`], each with the other names found for it.
pub fn candidates_with_aliases(options: &DiscoveryOptions) -> Vec<Candidate> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(env) = &options.virtual_env {
        dirs.push(env.join("bin"));
    }
    dirs.extend(
        options
            .path_dirs()
            .into_iter()
            .filter(|d| !options.is_pyenv_shims(d)),
    );
    if let Some(root) = &options.pyenv_root {
        dirs.extend(versions_under(&root.join("versions"), "bin"));
    }
    if let Some(uv) = &options.uv_python_dir {
        dirs.extend(versions_under(uv, "bin"));
    }
    dirs.extend(options.system_dirs.iter().cloned());

    let mut index: std::collections::HashMap<(Option<PathBuf>, PathBuf), usize> =
        std::collections::HashMap::new();
    let mut out: Vec<Candidate> = Vec::new();
    for dir in dirs {
        for executable in python_executables_in(&dir) {
            let (Some(id), Some(key)) = (identity(&executable), group_key(&executable)) else {
                continue;
            };
            match index.get(&key) {
                Some(&at) => {
                    let shown = std::path::absolute(&executable).unwrap_or(executable);
                    let known = &mut out[at];
                    if shown != known.path && !known.aliases.contains(&shown) {
                        known.aliases.push(shown);
                    }
                }
                None => {
                    index.insert(key, out.len());
                    let shown = std::path::absolute(&executable).unwrap_or(executable);
                    let aliases = if shown == id { Vec::new() } else { vec![shown] };
                    out.push(Candidate { path: id, aliases });
                }
            }
        }
    }
    out
}

/// The order interpreters are listed in: by implementation, then version (numerically: 3.6
/// before 3.10), then path.
pub(crate) fn listing_order(a: &Interpreter, b: &Interpreter) -> std::cmp::Ordering {
    a.implementation()
        .cmp(b.implementation())
        .then_with(|| a.version_numbers().cmp(&b.version_numbers()))
        .then_with(|| a.path().cmp(b.path()))
}

/// Finds and probes every interpreter (in parallel; cached probes start nothing), sorted by
/// implementation then version. Executables that fail to probe are returned as errors beside
/// the interpreters.
pub fn discover(options: &DiscoveryOptions) -> (Vec<Interpreter>, Vec<InterpreterError>) {
    let paths = candidates(options);
    let results: Vec<Result<Interpreter, InterpreterError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || Interpreter::probe(path)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("probe thread panicked"))
            .collect()
    });
    let mut interpreters = Vec::new();
    let mut errors = Vec::new();
    let mut seen_executables = HashSet::new();
    for result in results {
        match result {
            // Two names for one installation (a hard link, a copy) report one sys.executable.
            Ok(interpreter) => {
                let key = (
                    interpreter.sys_executable(),
                    interpreter.full_version().to_owned(),
                );
                if seen_executables.insert(key) {
                    interpreters.push(interpreter);
                }
            }
            Err(error) => errors.push(error),
        }
    }
    interpreters.sort_by(listing_order);
    (interpreters, errors)
}

/// The interpreter used when none is requested: `$VIRTUAL_ENV`'s, else `python3` on `PATH`.
///
/// # Errors
///
/// When neither exists or it cannot be probed.
pub fn default_interpreter(options: &DiscoveryOptions) -> Result<Interpreter, InterpreterError> {
    if let Some(env) = &options.virtual_env {
        let python = env.join("bin").join("python");
        if is_executable_file(&python) {
            return Interpreter::probe(&python);
        }
    }
    let python3 = find_command("python3", options)
        .ok_or_else(|| InterpreterError::not_found("python3", Vec::new()))?;
    Interpreter::probe(&python3)
}

#[cfg(test)]
mod tests {
    use super::is_python_name;

    #[test]
    fn python_names() {
        for good in [
            "python",
            "python3",
            "python3.12",
            "python3.13t",
            "pypy3",
            "pypy3.10",
            "python2.7",
        ] {
            assert!(is_python_name(good.as_bytes()), "{good}");
        }
        for bad in [
            "python3-config",
            "python3.11-config",
            "pythonw",
            "python3.",
            "pypy3-c",
            "py",
        ] {
            assert!(!is_python_name(bad.as_bytes()), "{bad}");
        }
    }
}
