//! Interpreters: what a Python says about its cache scheme, learnt once and remembered.
//!
//! Every version-dependent fact this crate needs (cache tag, magic, header layout, source-hash
//! algorithm, `sys.pycache_prefix`, extension suffixes, `sys.path`) comes from running the
//! interpreter once with an embedded probe script ([`Interpreter::probe`]). Results are cached on
//! disk keyed by the executable's path, size and mtime and the environment variables that change
//! the answers, so a second run starts no Python at all. Nothing here guesses a fact from a
//! version number when the interpreter can be asked.

mod discovery;
mod probe_cache;
mod request;

pub use discovery::{
    Candidate, DiscoveryOptions, candidates, candidates_with_aliases, default_interpreter,
    discover, find_command, same_executable,
};
pub use probe_cache::cache_dir;
pub use request::{InterpreterRequest, LeftOut, ParseRequestError, select_all};

use crate::cache_path::CacheScheme;
use crate::freshness::{CheckHashBasedPycs, ImportRules};
use crate::header::HeaderLayout;
use crate::magic::Magic;
use crate::source_hash::{SourceHashAlgorithm, source_hash};
use crate::version::PythonVersion;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PROBE_SCRIPT: &str = include_str!("probe.py");

/// The raw answer of the probe script (hex-encoded paths), as cached on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ProbeData {
    pub(crate) probe_version: u32,
    pub(crate) implementation: String,
    pub(crate) version: String,
    pub(crate) sys_version: String,
    pub(crate) releaselevel: String,
    pub(crate) serial: u32,
    pub(crate) cache_tag: Option<String>,
    pub(crate) marshal_version: u32,
    pub(crate) optimize: u8,
    pub(crate) pycache_prefix: Option<String>,
    pub(crate) executable: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) base_prefix: Option<String>,
    pub(crate) sys_path: Vec<Option<String>>,
    pub(crate) magic: Option<String>,
    pub(crate) source_hash_of_empty: Option<String>,
    pub(crate) extension_suffixes: Vec<String>,
    pub(crate) soabi: Option<String>,
    pub(crate) ext_suffix: Option<String>,
}

/// Why an interpreter could not be probed or found.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct InterpreterError {
    path: PathBuf,
    kind: InterpreterErrorKind,
}

#[derive(Debug, thiserror::Error)]
enum InterpreterErrorKind {
    #[error("cannot run it: {0}")]
    Spawn(std::io::Error),
    #[error("the probe failed ({status}): {last_line}")]
    Failed { status: String, last_line: String },
    #[error("not a Python interpreter (running it with -c gave {status} and no answer)")]
    NotPython { status: String },
    #[error("the probe's answer is not understood: {0}")]
    BadAnswer(String),
    #[error(
        "{implementation} {version} is not supported (pycache supports CPython 3.6+ and PyPy 3)"
    )]
    Unsupported {
        implementation: String,
        version: String,
    },
    #[error("no interpreter matches this request{}", found_list(.found))]
    NotFound { found: Vec<String> },
}

fn found_list(found: &[String]) -> String {
    if found.is_empty() {
        " (no interpreter was found)".to_owned()
    } else {
        format!(" (found: {})", found.join(", "))
    }
}

impl InterpreterError {
    /// The executable (or request) the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why, without the path: `not a Python interpreter (...)`.
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }

    /// True when no interpreter matched the request (as opposed to one that failed).
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, InterpreterErrorKind::NotFound { .. })
    }

    /// `found`: what was found instead, as `cpython 3.12.1` names, for the message.
    pub(crate) fn not_found(request: &str, found: Vec<String>) -> Self {
        InterpreterError {
            path: PathBuf::from(request),
            kind: InterpreterErrorKind::NotFound { found },
        }
    }

    pub(crate) fn unsupported(interpreter: &Interpreter) -> Self {
        InterpreterError {
            path: interpreter.path().to_owned(),
            kind: InterpreterErrorKind::Unsupported {
                implementation: interpreter.implementation_name().to_owned(),
                version: interpreter.full_version().to_owned(),
            },
        }
    }
}

/// A Python interpreter and the facts of its bytecode cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    path: PathBuf,
    data: ProbeData,
    language: PythonVersion,
    magic: Magic,
    hash_algorithm: Option<SourceHashAlgorithm>,
}

/// The bytes of the probe's hex text (`bytes.hex()`); `None` when it is not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

fn hex_path(text: &Option<String>) -> Option<PathBuf> {
    text.as_deref()
        .and_then(unhex)
        .map(|bytes| PathBuf::from(OsString::from_vec(bytes)))
}

impl Interpreter {
    /// Runs `executable` once with the probe script and learns its facts; a cached answer is used
    /// when the executable and the relevant environment are unchanged since it was probed.
    ///
    /// # Errors
    ///
    /// When the executable cannot be started, the probe fails, or its answer is not understood.
    pub fn probe(executable: &Path) -> Result<Self, InterpreterError> {
        let key = probe_cache::ProbeKey::for_executable(executable);
        if let Some(key) = &key
            && let Some(data) = probe_cache::load(key)
            && let Ok(interpreter) = Self::from_probe(executable, data)
        {
            return Ok(interpreter);
        }
        let data = Self::run_probe(executable)?;
        let interpreter = Self::from_probe(executable, data.clone())?;
        if let Some(key) = &key {
            probe_cache::store(key, &data);
        }
        Ok(interpreter)
    }

    /// Drops the cached probe answer of this interpreter (a worker contradicted it), so that
    /// the next run probes again.
    pub fn forget_cached_probe(&self) {
        probe_cache::forget(self.path());
    }

    fn run_probe(executable: &Path) -> Result<ProbeData, InterpreterError> {
        let error = |kind| InterpreterError {
            path: executable.to_owned(),
            kind,
        };
        let run = || {
            Command::new(executable)
                .arg("-c")
                .arg(PROBE_SCRIPT)
                .stdin(Stdio::null())
                .env_remove("PYTHONSTARTUP")
                .output()
        };
        // ETXTBSY: an executable just written may still be open for writing in a child that
        // another thread forked and has not exec'd yet; that passes within milliseconds.
        let mut output = run();
        for _ in 0..20 {
            match &output {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    output = run();
                }
                _ => break,
            }
        }
        let output = output.map_err(|e| error(InterpreterErrorKind::Spawn(e)))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Only a Python prints a traceback; anything else is not an interpreter at all.
        if !output.status.success() && stderr.contains("Traceback (most recent call last)") {
            return Err(error(InterpreterErrorKind::Failed {
                status: output.status.to_string(),
                last_line: stderr.trim().lines().last().unwrap_or_default().to_owned(),
            }));
        }
        let line = output
            .stdout
            .split(|&b| b == b'\n')
            .rfind(|l| l.starts_with(b"{"));
        match line {
            Some(line) if output.status.success() => serde_json::from_slice(line)
                .map_err(|e| error(InterpreterErrorKind::BadAnswer(e.to_string()))),
            _ => Err(error(InterpreterErrorKind::NotPython {
                status: output.status.to_string(),
            })),
        }
    }

    pub(crate) fn from_probe(executable: &Path, data: ProbeData) -> Result<Self, InterpreterError> {
        let bad = |what: &str| InterpreterError {
            path: executable.to_owned(),
            kind: InterpreterErrorKind::BadAnswer(what.to_owned()),
        };
        let language: PythonVersion = data.version.parse().map_err(|_| bad("version"))?;
        let magic_bytes = data
            .magic
            .as_deref()
            .and_then(unhex)
            .ok_or_else(|| bad("magic"))?;
        let magic = Magic(magic_bytes.try_into().map_err(|_| bad("magic length"))?);
        // The algorithm is whichever SipHash reproduces the interpreter's own hash of b"".
        let hash_algorithm = data
            .source_hash_of_empty
            .as_deref()
            .and_then(unhex)
            .and_then(|empty| {
                [
                    SourceHashAlgorithm::SipHash13,
                    SourceHashAlgorithm::SipHash24,
                ]
                .into_iter()
                .find(|&algorithm| source_hash(algorithm, magic, b"")[..] == empty[..])
            });
        Ok(Interpreter {
            path: executable.to_owned(),
            data,
            language,
            magic,
            hash_algorithm,
        })
    }

    /// The executable this interpreter is run as.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `sys.implementation.name`: `cpython`, `pypy`, ...
    pub fn implementation(&self) -> &str {
        &self.data.implementation
    }

    /// `CPython` or `PyPy`, for messages.
    pub fn implementation_name(&self) -> &str {
        match self.implementation() {
            "cpython" => "CPython",
            "pypy" => "PyPy",
            other => other,
        }
    }

    /// True for the interpreters pycache supports: CPython 3.6 and later, PyPy 3.
    pub fn is_supported(&self) -> bool {
        self.language.major == 3 && (self.language.minor >= 6 || self.implementation() != "cpython")
    }

    /// The full version's numbers, for numeric ordering: `[3, 12, 1]`.
    pub fn version_numbers(&self) -> Vec<u32> {
        self.full_version()
            .split('.')
            .filter_map(|part| part.parse().ok())
            .collect()
    }

    /// The full version, `3.12.1`.
    pub fn full_version(&self) -> &str {
        &self.data.version
    }

    /// `sys.version` whole: the release, the build and its compiler
    /// (`3.12.1 (main, May  9 2026, 07:35:25) [GCC 12.2.0]`).
    pub fn sys_version(&self) -> &str {
        &self.data.sys_version
    }

    /// `sys.version_info.releaselevel` (`final`, `candidate`, ...).
    pub fn release_level(&self) -> &str {
        &self.data.releaselevel
    }

    /// The language version, `3.12`.
    pub fn version(&self) -> PythonVersion {
        self.language
    }

    /// `sys.implementation.cache_tag` (`None` for Python 2 or builds that disable caching).
    pub fn cache_tag(&self) -> Option<&str> {
        self.data.cache_tag.as_deref()
    }

    /// `importlib.util.MAGIC_NUMBER`.
    pub fn magic(&self) -> Magic {
        self.magic
    }

    /// `marshal.version`.
    pub fn marshal_version(&self) -> u32 {
        self.data.marshal_version
    }

    /// `sys.flags.optimize` as probed.
    pub fn optimize_flag(&self) -> u8 {
        self.data.optimize
    }

    /// `sys.pycache_prefix` as probed (from `PYTHONPYCACHEPREFIX` in the environment).
    pub fn pycache_prefix(&self) -> Option<PathBuf> {
        hex_path(&self.data.pycache_prefix)
    }

    /// `sys.executable`.
    pub fn sys_executable(&self) -> Option<PathBuf> {
        hex_path(&self.data.executable)
    }

    /// True inside a virtual environment (`sys.prefix != sys.base_prefix`).
    pub fn is_virtualenv(&self) -> bool {
        self.data.prefix != self.data.base_prefix
    }

    /// `sys.path` as the probe saw it (`''` is the current directory).
    pub fn sys_path(&self) -> Vec<PathBuf> {
        self.data.sys_path.iter().filter_map(hex_path).collect()
    }

    /// `importlib.machinery.EXTENSION_SUFFIXES`, in search order.
    pub fn extension_suffixes(&self) -> &[String] {
        &self.data.extension_suffixes
    }

    /// `sysconfig.get_config_var('SOABI')`.
    pub fn soabi(&self) -> Option<&str> {
        self.data.soabi.as_deref()
    }

    /// `sysconfig.get_config_var('EXT_SUFFIX')`.
    pub fn ext_suffix(&self) -> Option<&str> {
        self.data.ext_suffix.as_deref()
    }

    /// The source-hash algorithm, found by reproducing the interpreter's own hash; `None` when it
    /// has no `importlib.util.source_hash` (before 3.7).
    pub fn source_hash_algorithm(&self) -> Option<SourceHashAlgorithm> {
        self.hash_algorithm
    }

    /// The pyc header layout this interpreter reads and writes.
    pub fn header_layout(&self) -> HeaderLayout {
        HeaderLayout::for_version(self.language)
    }

    /// A short name for messages: `cpython-3.12.1` or `pypy-3.9.16`.
    pub fn display_name(&self) -> String {
        format!("{}-{}", self.data.implementation, self.data.version)
    }

    /// The cache scheme of this interpreter, with its probed `sys.flags.optimize` and
    /// `sys.pycache_prefix`.
    pub fn cache_scheme(&self) -> CacheScheme {
        CacheScheme::new(self.cache_tag(), self.language)
            .with_optimize_flag(self.data.optimize)
            .with_pycache_prefix(self.pycache_prefix().map(PathBuf::into_os_string))
    }

    /// What this interpreter's import checks before trusting a pyc.
    pub fn import_rules(&self, check_hash_based_pycs: CheckHashBasedPycs) -> ImportRules {
        ImportRules {
            magic: self.magic,
            layout: self.header_layout(),
            hash_algorithm: self.hash_algorithm,
            unmasked_mtime: !self.language.at_least(3, 7),
            check_hash_based_pycs,
        }
    }
}
