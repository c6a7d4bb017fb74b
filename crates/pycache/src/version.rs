//! Python language versions, as far as the cache scheme cares: `major.minor` decides the pyc
//! header layout, the source-hash algorithm, whether `sys.pycache_prefix` exists and how
//! `cache_from_source` makes a relative head absolute.

use std::fmt;
use std::str::FromStr;

/// A Python language version (`major.minor`), e.g. 3.12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    /// The major version (3 for every interpreter that has `__pycache__`).
    pub major: u8,
    /// The minor version.
    pub minor: u8,
}

impl PythonVersion {
    /// Makes a version from its two parts.
    pub const fn new(major: u8, minor: u8) -> Self {
        PythonVersion { major, minor }
    }

    /// True when this version is at least `major.minor`.
    pub const fn at_least(self, major: u8, minor: u8) -> bool {
        self.major > major || (self.major == major && self.minor >= minor)
    }

    /// `sys.pycache_prefix` exists from 3.8 on.
    pub const fn has_pycache_prefix(self) -> bool {
        self.at_least(3, 8)
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The error for a string that is not `MAJOR.MINOR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Python version (expected MAJOR.MINOR such as 3.12): {0:?}")]
pub struct ParseVersionError(String);

impl FromStr for PythonVersion {
    type Err = ParseVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseVersionError(text.to_owned());
        let mut parts = text.split('.');
        let major = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(error)?;
        let minor = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(error)?;
        Ok(PythonVersion { major, minor })
    }
}

impl serde::Serialize for PythonVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
