//! Extension module file names (PEP 3149 and its relatives) and which one an interpreter loads.
//!
//! An extension module's file name carries an ABI tag: `foo.cpython-312-x86_64-linux-gnu.so`,
//! `foo.abi3.so`, `foo.pypy39-pp73-x86_64-linux-gnu.so`, `foo.cp312-win_amd64.pyd`. The import
//! system never parses these tags: `FileFinder` tries `module + suffix` for each suffix of the
//! interpreter's `EXTENSION_SUFFIXES` in order, then `.py`, then `.pyc`, and a file with any
//! other tag is simply invisible to it. [`find_module`] reproduces exactly that; the parser
//! ([`ExtensionName::parse`]) is for telling people what a file is for.

use crate::version::PythonVersion;
use std::fmt;
use std::path::{Path, PathBuf};

/// What an extension file's tag says it was built for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ExtensionTag {
    /// `cpython-312-x86_64-linux-gnu`, `cpython-36m`, `cpython-313t-...`, `cpython-312d-darwin`.
    CPython {
        /// The language version.
        version: PythonVersion,
        /// ABI flags: `d` debug, `m` pymalloc (3.2–3.7), `u` wide unicode (3.2), `t` free-threaded.
        abiflags: String,
        /// The platform triplet (`x86_64-linux-gnu`, `darwin`), when present.
        platform: Option<String>,
    },
    /// `abi3` (PEP 384 stable ABI; `abi3t` for free-threaded builds from 3.15).
    StableAbi {
        /// `abi3` or `abi3t`.
        name: String,
    },
    /// `pypy39-pp73-x86_64-linux-gnu`.
    PyPy {
        /// The language version PyPy implements.
        version: PythonVersion,
        /// PyPy's ABI tag (`pp73`).
        abi: String,
        /// The platform, when present.
        platform: Option<String>,
    },
    /// Windows: `cp312-win_amd64`, `cp313t-win_arm64` (with `_d` before the dot for debug).
    Windows {
        /// The language version.
        version: PythonVersion,
        /// `t` for free-threaded, else empty.
        abiflags: String,
        /// `win32`, `win_amd64`, `win_arm64`.
        platform: String,
        /// A debug build's file (`foo_d.cp312-win_amd64.pyd`).
        debug: bool,
    },
    /// No tag: `foo.so`, `foo.pyd`; loadable by any interpreter that lists the bare suffix.
    Untagged,
    /// A tag this parser does not know.
    Other {
        /// The tag as written.
        tag: String,
    },
}

impl ExtensionTag {
    /// True for the stable ABI.
    pub fn is_stable_abi(&self) -> bool {
        matches!(self, ExtensionTag::StableAbi { .. })
    }

    /// A short description: `CPython 3.12 (x86_64-linux-gnu)`, `stable ABI (abi3)`, ...
    pub fn describe(&self) -> String {
        let platform =
            |p: &Option<String>| p.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
        match self {
            ExtensionTag::CPython {
                version,
                abiflags,
                platform: p,
            } => {
                let flags = if abiflags.is_empty() {
                    String::new()
                } else {
                    format!(", flags {abiflags}")
                };
                format!("CPython {version}{flags}{}", platform(p))
            }
            ExtensionTag::StableAbi { name } => format!("stable ABI ({name})"),
            ExtensionTag::PyPy {
                version,
                abi,
                platform: p,
            } => format!("PyPy {version} ({abi}){}", platform(p)),
            ExtensionTag::Windows {
                version,
                abiflags,
                platform: p,
                debug,
            } => format!(
                "CPython {version}{} on Windows ({p}){}",
                if abiflags.is_empty() {
                    String::new()
                } else {
                    format!(", flags {abiflags}")
                },
                if *debug { ", debug" } else { "" }
            ),
            ExtensionTag::Untagged => "untagged".to_owned(),
            ExtensionTag::Other { tag } => format!("unknown tag {tag:?}"),
        }
    }
}

/// A parsed extension module file name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExtensionName {
    /// The module name (`foo`).
    pub module: String,
    /// The tag.
    pub tag: ExtensionTag,
    /// `so` or `pyd`.
    pub extension: String,
    /// The file name exactly as given.
    pub file_name: String,
}

/// A file name that is not an extension module's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not an extension module file name: {reason}")]
#[non_exhaustive]
pub struct NotAnExtension {
    /// The name.
    pub name: String,
    /// Why.
    pub reason: &'static str,
}

fn parse_version(digits: &str) -> Option<PythonVersion> {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let major = digits[..1].parse().ok()?;
    let minor = digits[1..].parse().ok()?;
    Some(PythonVersion::new(major, minor))
}

/// Splits `312td-x86_64-linux-gnu` into digits, letters and the platform after the first `-`.
fn split_tag(rest: &str) -> (&str, &str, Option<String>) {
    let (head, platform) = match rest.split_once('-') {
        Some((head, platform)) => (head, Some(platform.to_owned())),
        None => (rest, None),
    };
    let digits_end = head
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(head.len());
    (&head[..digits_end], &head[digits_end..], platform)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

impl ExtensionTag {
    /// The tag between the module name and the suffix (`cpython-312-x86_64-linux-gnu`, empty
    /// when there is none); `extension` is `so` or `pyd`, `debug` a Windows `_d` module name.
    fn parse(tag: &str, extension: &str, debug: bool) -> Self {
        let other = || ExtensionTag::Other {
            tag: tag.to_owned(),
        };
        if tag.is_empty() {
            ExtensionTag::Untagged
        } else if tag == "abi3" || tag == "abi3t" {
            ExtensionTag::StableAbi {
                name: tag.to_owned(),
            }
        } else if let Some(rest) = tag.strip_prefix("cpython-") {
            Self::cpython(rest).unwrap_or_else(other)
        } else if let Some(rest) = tag.strip_prefix("pypy") {
            Self::pypy(rest).unwrap_or_else(other)
        } else if let Some(rest) = tag.strip_prefix("cp").filter(|_| extension == "pyd") {
            Self::windows(rest, debug).unwrap_or_else(other)
        } else {
            other()
        }
    }

    /// `312-x86_64-linux-gnu`, `36m`, `313t-...` after `cpython-`.
    fn cpython(rest: &str) -> Option<Self> {
        let (digits, flags, platform) = split_tag(rest);
        let version = parse_version(digits)?;
        flags
            .bytes()
            .all(|b| b"dmut".contains(&b))
            .then(|| ExtensionTag::CPython {
                version,
                abiflags: flags.to_owned(),
                platform,
            })
    }

    /// `310-pp73-x86_64-linux-gnu` after `pypy`.
    fn pypy(rest: &str) -> Option<Self> {
        let (digits, _, platform) = split_tag(rest);
        let (abi, platform) = match platform {
            Some(p) => match p.split_once('-') {
                Some((abi, platform)) => (abi.to_owned(), Some(platform.to_owned())),
                None => (p, None),
            },
            None => (String::new(), None),
        };
        Some(ExtensionTag::PyPy {
            version: parse_version(digits)?,
            abi,
            platform,
        })
    }

    /// `312-win_amd64` after `cp` (a `.pyd`).
    fn windows(rest: &str, debug: bool) -> Option<Self> {
        let (digits, flags, platform) = split_tag(rest);
        match (parse_version(digits), platform) {
            (Some(version), Some(platform)) if flags.is_empty() || flags == "t" => {
                Some(ExtensionTag::Windows {
                    version,
                    abiflags: flags.to_owned(),
                    platform,
                    debug,
                })
            }
            _ => None,
        }
    }
}

impl ExtensionName {
    /// Parses a file name such as `foo.cpython-312-x86_64-linux-gnu.so`.
    ///
    /// # Errors
    ///
    /// [`NotAnExtension`] when the name does not end in `.so`/`.pyd` or its module part is not
    /// an identifier.
    ///
    /// # Examples
    ///
    /// ```
    /// use pycache::extension::{ExtensionName, ExtensionTag};
    /// let name = ExtensionName::parse("foo.abi3.so").unwrap();
    /// assert_eq!(name.module, "foo");
    /// assert!(name.tag.is_stable_abi());
    /// ```
    pub fn parse(file_name: &str) -> Result<Self, NotAnExtension> {
        let error = |reason| NotAnExtension {
            name: file_name.to_owned(),
            reason,
        };
        let (stem, extension) = file_name
            .rsplit_once('.')
            .ok_or_else(|| error("no .so or .pyd suffix"))?;
        if extension != "so" && extension != "pyd" {
            return Err(error("no .so or .pyd suffix"));
        }
        let (module, tag) = match stem.split_once('.') {
            Some((module, tag)) => (module, tag),
            None => (stem, ""),
        };
        let (module, debug) = match (extension, module.strip_suffix("_d")) {
            ("pyd", Some(base)) if tag.starts_with("cp") => (base, true),
            _ => (module, false),
        };
        if !is_identifier(module) {
            return Err(error("the module part is not a Python identifier"));
        }
        let tag = ExtensionTag::parse(tag, extension, debug);
        Ok(ExtensionName {
            module: module.to_owned(),
            tag,
            extension: extension.to_owned(),
            file_name: file_name.to_owned(),
        })
    }
}

impl fmt::Display for ExtensionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name)
    }
}

/// The file name an interpreter with this `EXT_SUFFIX` looks for first: `module + EXT_SUFFIX`.
pub fn file_name_for(module: &str, ext_suffix: &str) -> String {
    format!("{module}{ext_suffix}")
}

/// What `FileFinder` would load for a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A package: `dir/module/__init__<suffix>`.
    Package(PathBuf),
    /// A module file: an extension, `.py` or `.pyc`.
    Module(PathBuf),
    /// A directory without `__init__`: a namespace package portion.
    Namespace(PathBuf),
}

impl Found {
    /// The file (or directory) found.
    pub fn path(&self) -> &Path {
        match self {
            Found::Package(p) | Found::Module(p) | Found::Namespace(p) => p,
        }
    }
}

/// The suffixes `FileFinder` tries, in order: the interpreter's extension suffixes, `.py`,
/// `.pyc` (POSIX).
pub fn loader_suffixes(extension_suffixes: &[String]) -> Vec<String> {
    let mut suffixes = extension_suffixes.to_vec();
    suffixes.push(".py".to_owned());
    suffixes.push(".pyc".to_owned());
    suffixes
}

/// What `importlib.machinery.FileFinder(dir).find_spec(module)` finds for an interpreter with
/// these `EXTENSION_SUFFIXES` (POSIX: exact, case-sensitive names).
pub fn find_module(dir: &Path, module: &str, extension_suffixes: &[String]) -> Option<Found> {
    let suffixes = loader_suffixes(extension_suffixes);
    let is_file = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file());
    let base = dir.join(module);
    let is_package_dir = std::fs::metadata(&base).is_ok_and(|m| m.is_dir());
    if is_package_dir {
        for suffix in &suffixes {
            let init = base.join(format!("__init__{suffix}"));
            if is_file(&init) {
                return Some(Found::Package(init));
            }
        }
    }
    for suffix in &suffixes {
        let candidate = dir.join(format!("{module}{suffix}"));
        if is_file(&candidate) {
            return Some(Found::Module(candidate));
        }
    }
    is_package_dir.then_some(Found::Namespace(base))
}

#[cfg(test)]
mod tests;
