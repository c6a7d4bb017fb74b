//! Magic numbers: which Python wrote a pyc.
//!
//! The first two bytes of a pyc are a little-endian number, followed by `\r\n`. CPython bumps it
//! whenever the bytecode changes, so every release line owns a range (the history is the comment
//! list in `importlib/_bootstrap_external.py`; from 3.11 on the scheme is `2900 + 50 * minor`).
//! This table lets a pyc be described without its interpreter. It never decides freshness: that
//! compares against the magic the target interpreter itself reports.

use crate::version::PythonVersion;
use std::fmt;

/// The four magic bytes at the start of a pyc (`importlib.util.MAGIC_NUMBER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Magic(pub [u8; 4]);

impl Magic {
    /// The magic of a 16-bit magic number: the number little-endian, then `\r\n`.
    pub const fn from_number(number: u16) -> Self {
        let [lo, hi] = number.to_le_bytes();
        Magic([lo, hi, b'\r', b'\n'])
    }

    /// The 16-bit number (bytes 0 and 1, little-endian).
    pub const fn number(self) -> u16 {
        u16::from_le_bytes([self.0[0], self.0[1]])
    }

    /// `_RAW_MAGIC_NUMBER`: all four bytes as a little-endian `u32`, the key of the source hash.
    pub const fn raw(self) -> u32 {
        u32::from_le_bytes(self.0)
    }

    /// True when bytes 2 and 3 are `\r\n`, as in every magic CPython and PyPy have written.
    pub const fn has_crlf(self) -> bool {
        self.0[2] == b'\r' && self.0[3] == b'\n'
    }

    /// What this magic is known to mean, if anything.
    pub fn known_release(self) -> Option<KnownMagic> {
        if !self.has_crlf() {
            return None;
        }
        lookup(self.number())
    }
}

impl fmt::Display for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// Which implementation a known magic belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// CPython.
    CPython,
    /// PyPy (which numbers its magics outside CPython's ranges).
    PyPy,
}

/// What the magic table says about one magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMagic {
    /// The implementation that writes it.
    pub implementation: Implementation,
    /// The language version whose range holds it.
    pub version: PythonVersion,
    /// True for the number the final release of that line writes; false for alpha, beta and
    /// candidate numbers in the same range.
    pub is_final: bool,
}

/// One CPython release line: its magic range and the number its final releases write.
struct Line {
    minor: u8,
    first: u16,
    last: u16,
    finals: &'static [u16],
}

/// CPython 3.0 to 3.15, from the history in `importlib/_bootstrap_external.py` (3.13) and
/// `Include/internal/pycore_magic_number.h` (3.14, 3.15). Ranges run up to the next line's
/// first number so that pre-release magics are attributed to the line being developed.
const CPYTHON_LINES: &[Line] = &[
    Line {
        minor: 0,
        first: 3000,
        last: 3140,
        finals: &[3131],
    },
    Line {
        minor: 1,
        first: 3141,
        last: 3159,
        finals: &[3151],
    },
    Line {
        minor: 2,
        first: 3160,
        last: 3189,
        finals: &[3180],
    },
    Line {
        minor: 3,
        first: 3190,
        last: 3249,
        finals: &[3230],
    },
    Line {
        minor: 4,
        first: 3250,
        last: 3319,
        finals: &[3310],
    },
    Line {
        minor: 5,
        first: 3320,
        last: 3359,
        finals: &[3350, 3351],
    },
    Line {
        minor: 6,
        first: 3360,
        last: 3389,
        finals: &[3379],
    },
    Line {
        minor: 7,
        first: 3390,
        last: 3399,
        finals: &[3394],
    },
    Line {
        minor: 8,
        first: 3400,
        last: 3419,
        finals: &[3413],
    },
    Line {
        minor: 9,
        first: 3420,
        last: 3429,
        finals: &[3425],
    },
    Line {
        minor: 10,
        first: 3430,
        last: 3449,
        finals: &[3439],
    },
    Line {
        minor: 11,
        first: 3450,
        last: 3499,
        finals: &[3495],
    },
    Line {
        minor: 12,
        first: 3500,
        last: 3549,
        finals: &[3531],
    },
    Line {
        minor: 13,
        first: 3550,
        last: 3599,
        finals: &[3571],
    },
    Line {
        minor: 14,
        first: 3600,
        last: 3649,
        finals: &[3627],
    },
    Line {
        minor: 15,
        first: 3650,
        last: 3699,
        finals: &[],
    },
];

/// PyPy's magics (PyPy numbers them on its own; 336 is PyPy 3.9's, read from Debian's pypy3).
const PYPY_MAGICS: &[(u16, PythonVersion)] = &[(336, PythonVersion::new(3, 9))];

fn lookup(number: u16) -> Option<KnownMagic> {
    if let Some(&(_, version)) = PYPY_MAGICS.iter().find(|(n, _)| *n == number) {
        return Some(KnownMagic {
            implementation: Implementation::PyPy,
            version,
            is_final: true,
        });
    }
    if number == 62211 {
        return Some(KnownMagic {
            implementation: Implementation::CPython,
            version: PythonVersion::new(2, 7),
            is_final: true,
        });
    }
    CPYTHON_LINES
        .iter()
        .find(|line| (line.first..=line.last).contains(&number))
        .map(|line| KnownMagic {
            implementation: Implementation::CPython,
            version: PythonVersion::new(3, line.minor),
            is_final: line.finals.contains(&number),
        })
}

/// The magic the final releases of CPython `3.minor` write, when known.
pub fn cpython_final_magic(version: PythonVersion) -> Option<Magic> {
    if version.major != 3 {
        return None;
    }
    CPYTHON_LINES
        .iter()
        .find(|line| line.minor == version.minor)
        .and_then(|line| line.finals.last())
        .map(|&n| Magic::from_number(n))
}

#[cfg(test)]
mod tests;
