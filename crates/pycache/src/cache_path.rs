//! `cache_from_source` and `source_from_cache` (PEP 3147, PEP 488, `sys.pycache_prefix`).
//!
//! These are CPython's `importlib._bootstrap_external` functions written again over bytes: the
//! same split at the last `/`, the same `rpartition('.')`, the same join that drops empty parts
//! and right-strips separators, the same quirks (a source directly under `/` gets a relative
//! `__pycache__/...`; a name without a dot gets no dot before the tag) and the same errors with
//! the same messages. Per-version differences are keyed on the interpreter's version: no
//! `pycache_prefix` before 3.8, and from 3.12 one leading `./` is dropped before a relative head
//! is made absolute. Paths stay bytes throughout, so any POSIX file name works.
//!
//! Only POSIX separators are implemented; Windows' drive and `\` rules are not.

use crate::python_str::{char_spans, is_alnum, repr};
use crate::version::PythonVersion;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The directory that holds cached bytecode (`_PYCACHE`).
pub const PYCACHE: &str = "__pycache__";
/// The prefix of an optimization level in a cache name (`_OPT`).
pub const OPT_PREFIX: &str = "opt-";
const SEP: u8 = b'/';

/// Why CPython would refuse a path. Each variant displays CPython's own message; see
/// [`CachePathError::python_exception`] for the exception type it raises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CachePathError {
    /// `sys.implementation.cache_tag` is `None`, so there is no cache (`NotImplementedError`).
    #[error("sys.implementation.cache_tag is None")]
    NoCacheTag,
    /// An optimization level that is not `str.isalnum()` (`ValueError`).
    #[error("{repr} is not alphanumeric", repr = repr(.0.as_bytes()))]
    OptimizationNotAlphanumeric(String),
    /// CPython indexes `head[1]` of a too-short absolute head in the `pycache_prefix` branch
    /// (`IndexError`): sources like `//foo.py`, or any source when the cwd is `/`.
    #[error("string index out of range")]
    IndexOutOfRange,
    /// The path's parent directory is not `__pycache__` (`ValueError`).
    #[error("__pycache__ not bottom-level directory in {repr}", repr = repr(.0.as_bytes()))]
    NotBottomLevel(OsString),
    /// The cache file name has neither 2 nor 3 dots (`ValueError`).
    #[error("expected only 2 or 3 dots in {repr}", repr = repr(.0.as_bytes()))]
    DotCount(OsString),
    /// The third-from-last part of a 3-dot name does not start with `opt-` (`ValueError`).
    #[error("optimization portion of filename does not start with 'opt-'")]
    NoOptPrefix,
    /// The optimization level after `opt-` is not `str.isalnum()` (`ValueError`).
    #[error("optimization level {repr} is not an alphanumeric value", repr = repr(.0.as_bytes()))]
    OptimizationLevelNotAlphanumeric(OsString),
    /// The current directory could not be read while making a relative source absolute.
    #[error("cannot read the current directory: {0}")]
    CurrentDir(String),
}

impl CachePathError {
    /// The Python exception CPython raises for this error (`ValueError`, ...).
    pub fn python_exception(&self) -> &'static str {
        match self {
            CachePathError::NoCacheTag => "NotImplementedError",
            CachePathError::IndexOutOfRange => "IndexError",
            CachePathError::CurrentDir(_) => "FileNotFoundError",
            _ => "ValueError",
        }
    }
}

/// What `cache_from_source` needs to know about an interpreter: its cache tag, its version,
/// `sys.flags.optimize` and `sys.pycache_prefix`.
///
/// # Examples
///
/// ```
/// use pycache::{CacheScheme, PythonVersion};
/// use std::ffi::OsStr;
///
/// let scheme = CacheScheme::new(Some("cpython-312"), PythonVersion::new(3, 12));
/// let pyc = scheme.cache_from_source(OsStr::new("pkg/mod.py"), Some("1")).unwrap();
/// assert_eq!(pyc, "pkg/__pycache__/mod.cpython-312.opt-1.pyc");
/// assert_eq!(scheme.source_from_cache(&pyc).unwrap(), "pkg/mod.py");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheScheme {
    tag: Option<String>,
    version: PythonVersion,
    optimize_flag: u8,
    pycache_prefix: Option<OsString>,
}

impl CacheScheme {
    /// A scheme for an interpreter with this cache tag (`None`: caching disabled) and version,
    /// `sys.flags.optimize == 0` and no `pycache_prefix`.
    pub fn new(tag: Option<&str>, version: PythonVersion) -> Self {
        CacheScheme {
            tag: tag.map(str::to_owned),
            version,
            optimize_flag: 0,
            pycache_prefix: None,
        }
    }

    /// A scheme from a cache tag alone (`pycache path --tag`): the version is read from a
    /// `cpython-3NN` tag, else taken as the newest behaviour (3.12+).
    pub fn from_tag(tag: &str) -> Self {
        let version = tag
            .strip_prefix("cpython-3")
            .and_then(|minor| {
                minor
                    .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                    .parse()
                    .ok()
            })
            .map_or(PythonVersion::new(3, 99), |minor| {
                PythonVersion::new(3, minor)
            });
        CacheScheme::new(Some(tag), version)
    }

    /// Sets `sys.flags.optimize` (0, 1 with `-O`, 2 with `-OO`), used when no optimization is
    /// given.
    pub fn with_optimize_flag(mut self, level: u8) -> Self {
        self.optimize_flag = level;
        self
    }

    /// Sets `sys.pycache_prefix`. Ignored for interpreters older than 3.8, which lack it. An
    /// empty prefix means none, as for `PYTHONPYCACHEPREFIX=`.
    pub fn with_pycache_prefix(mut self, prefix: Option<OsString>) -> Self {
        self.pycache_prefix = prefix.filter(|p| !p.is_empty());
        self
    }

    /// The cache tag (`sys.implementation.cache_tag`).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The interpreter version this scheme follows.
    pub fn version(&self) -> PythonVersion {
        self.version
    }

    /// The prefix in force: `None` before 3.8 whatever was set.
    pub fn pycache_prefix(&self) -> Option<&OsStr> {
        if self.version.has_pycache_prefix() {
            self.pycache_prefix.as_deref()
        } else {
            None
        }
    }

    /// The end of the pyc names `cache_from_source` gives a module's sources with this
    /// `optimization` when they live in the `__pycache__` beside the source
    /// (`.cpython-311.pyc`, `.cpython-311.opt-1.pyc`); `None` under a `pycache_prefix` or
    /// without a cache tag.
    ///
    /// ```
    /// use pycache::{CacheScheme, PythonVersion};
    ///
    /// let scheme = CacheScheme::new(Some("cpython-311"), PythonVersion::new(3, 11));
    /// assert_eq!(scheme.pyc_suffix(Some("1")).unwrap(), b".cpython-311.opt-1.pyc");
    /// ```
    pub fn pyc_suffix(&self, optimization: Option<&str>) -> Option<Vec<u8>> {
        let probe = self
            .cache_from_source_in(OsStr::new("/d/m.py"), optimization, OsStr::new("/"))
            .ok()?;
        probe
            .as_bytes()
            .strip_prefix(b"/d/__pycache__/m".as_slice())
            .map(<[u8]>::to_vec)
    }

    /// `importlib.util.cache_from_source(source, optimization=optimization)`.
    ///
    /// `optimization` is the string CPython would get from `str(optimization)`; `None` means
    /// "not given" (the interpreter's `sys.flags.optimize` decides). `Some("")` gives no
    /// `opt-` part; `Some("0")` gives `opt-0`, as in CPython.
    ///
    /// # Errors
    ///
    /// CPython's: [`CachePathError::OptimizationNotAlphanumeric`], [`CachePathError::NoCacheTag`],
    /// [`CachePathError::IndexOutOfRange`]; [`CachePathError::CurrentDir`] when the prefix
    /// branch needs the current directory and it cannot be read.
    pub fn cache_from_source(
        &self,
        source: &OsStr,
        optimization: Option<&str>,
    ) -> Result<OsString, CachePathError> {
        self.cache_from_source_with_cwd(source, optimization, || {
            std::env::current_dir()
                .map(|dir| dir.into_os_string().into_vec())
                .map_err(|error| CachePathError::CurrentDir(error.to_string()))
        })
    }

    /// [`CacheScheme::cache_from_source`] with the current directory given (it is only read
    /// for a relative source under a `pycache_prefix`).
    ///
    /// # Errors
    ///
    /// As [`CacheScheme::cache_from_source`].
    pub fn cache_from_source_in(
        &self,
        source: &OsStr,
        optimization: Option<&str>,
        cwd: &OsStr,
    ) -> Result<OsString, CachePathError> {
        self.cache_from_source_with_cwd(source, optimization, || Ok(cwd.as_bytes().to_vec()))
    }

    fn cache_from_source_with_cwd(
        &self,
        source: &OsStr,
        optimization: Option<&str>,
        cwd: impl FnOnce() -> Result<Vec<u8>, CachePathError>,
    ) -> Result<OsString, CachePathError> {
        let (head, tail) = path_split(source.as_bytes());
        let (base, sep, rest) = rpartition(tail, b'.');
        let tag = self.tag.as_deref().ok_or(CachePathError::NoCacheTag)?;
        let mut almost = Vec::with_capacity(tail.len() + tag.len() + 12);
        almost.extend_from_slice(if base.is_empty() { rest } else { base });
        almost.extend_from_slice(sep);
        almost.extend_from_slice(tag.as_bytes());
        let level = match optimization {
            Some(level) => level.to_owned(),
            None if self.optimize_flag == 0 => String::new(),
            None => self.optimize_flag.to_string(),
        };
        if !level.is_empty() {
            if !is_alnum(level.as_bytes()) {
                return Err(CachePathError::OptimizationNotAlphanumeric(level));
            }
            almost.extend_from_slice(b".");
            almost.extend_from_slice(OPT_PREFIX.as_bytes());
            almost.extend_from_slice(level.as_bytes());
        }
        almost.extend_from_slice(b".pyc");
        let filename = almost;

        let Some(prefix) = self.pycache_prefix() else {
            return Ok(OsString::from_vec(path_join(&[
                head,
                PYCACHE.as_bytes(),
                &filename,
            ])));
        };
        let mut head = head.to_vec();
        if !head.starts_with(&[SEP]) {
            let mut relative: &[u8] = &head;
            if self.version.at_least(3, 12) {
                relative = relative.strip_prefix(b"./").unwrap_or(relative);
            }
            head = path_join(&[&cwd()?, relative]);
        }
        let spans = char_spans(&head);
        if spans.len() < 2 {
            return Err(CachePathError::IndexOutOfRange);
        }
        if spans[1].0 == u32::from(':') && spans[0].0 != u32::from('/') {
            head.drain(..spans[0].1 + spans[1].1);
        }
        let stripped = trim_start_sep(&head);
        Ok(OsString::from_vec(path_join(&[
            prefix.as_bytes(),
            stripped,
            &filename,
        ])))
    }

    /// `importlib.util.source_from_cache(path)`.
    ///
    /// # Errors
    ///
    /// CPython's: [`CachePathError::NoCacheTag`], [`CachePathError::NotBottomLevel`],
    /// [`CachePathError::DotCount`], [`CachePathError::NoOptPrefix`],
    /// [`CachePathError::OptimizationLevelNotAlphanumeric`].
    pub fn source_from_cache(&self, path: &OsStr) -> Result<OsString, CachePathError> {
        if self.tag.is_none() {
            return Err(CachePathError::NoCacheTag);
        }
        let (mut head, pycache_filename) = path_split(path.as_bytes());
        let mut found_in_prefix = false;
        if let Some(prefix) = self.pycache_prefix() {
            let stripped = trim_end_sep(prefix.as_bytes());
            if head.starts_with(stripped) && head.get(stripped.len()) == Some(&SEP) {
                head = &head[stripped.len()..];
                found_in_prefix = true;
            }
        }
        if !found_in_prefix {
            let (parent, pycache) = path_split(head);
            if pycache != PYCACHE.as_bytes() {
                return Err(CachePathError::NotBottomLevel(path.to_owned()));
            }
            head = parent;
        }
        let dots = pycache_filename.iter().filter(|&&b| b == b'.').count();
        if dots != 2 && dots != 3 {
            return Err(CachePathError::DotCount(
                OsStr::from_bytes(pycache_filename).to_owned(),
            ));
        }
        if dots == 3 {
            let (before_last, _) = rsplit_once(pycache_filename, b'.');
            let (_, opt) = rsplit_once(before_last, b'.');
            let Some(level) = opt.strip_prefix(OPT_PREFIX.as_bytes()) else {
                return Err(CachePathError::NoOptPrefix);
            };
            if !is_alnum(level) {
                return Err(CachePathError::OptimizationLevelNotAlphanumeric(
                    OsStr::from_bytes(opt).to_owned(),
                ));
            }
        }
        let base = pycache_filename
            .split(|&b| b == b'.')
            .next()
            .unwrap_or_default();
        let mut source_name = base.to_vec();
        source_name.extend_from_slice(b".py");
        Ok(OsString::from_vec(path_join(&[head, &source_name])))
    }
}

/// The legacy (`compileall -b`) location: the source path plus `c`, beside the source.
pub fn legacy_cache_from_source(source: &OsStr) -> OsString {
    let mut pyc = source.to_owned();
    pyc.push("c");
    pyc
}

/// `_path_split`: at the last separator, which belongs to neither part.
pub(crate) fn path_split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == SEP) {
        Some(at) => (&path[..at], &path[at + 1..]),
        None => (&[], path),
    }
}

/// `_path_join` on POSIX: empty parts dropped, trailing separators stripped from each part.
pub(crate) fn path_join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, part) in parts.iter().filter(|part| !part.is_empty()).enumerate() {
        if index > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(trim_end_sep(part));
    }
    out
}

fn trim_end_sep(part: &[u8]) -> &[u8] {
    let end = part.iter().rposition(|&b| b != SEP).map_or(0, |at| at + 1);
    &part[..end]
}

fn trim_start_sep(part: &[u8]) -> &[u8] {
    let start = part.iter().position(|&b| b != SEP).unwrap_or(part.len());
    &part[start..]
}

/// `str.rpartition`.
fn rpartition(text: &[u8], sep: u8) -> (&[u8], &[u8], &[u8]) {
    match text.iter().rposition(|&b| b == sep) {
        Some(at) => (&text[..at], &text[at..=at], &text[at + 1..]),
        None => (&[], &[], text),
    }
}

/// Split at the last `sep` (which must be present).
fn rsplit_once(text: &[u8], sep: u8) -> (&[u8], &[u8]) {
    let at = text.iter().rposition(|&b| b == sep).unwrap_or(0);
    (&text[..at], &text[at + 1..])
}

#[cfg(test)]
mod tests;
