//! `--python` requests: a path, a command name, a version, an implementation with a version, or
//! `all`.

use super::discovery::{DiscoveryOptions, discover, find_command};
use super::{Interpreter, InterpreterError};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// What a user asked for with `--python`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpreterRequest {
    /// Every interpreter found.
    All,
    /// An executable given by path (it contains a `/`).
    Path(PathBuf),
    /// A command looked up on `PATH` (`python3.12`, `pypy3`); when it is not there, a name of the
    /// form `<implementation><version>` is matched against the interpreters found instead.
    Command(String),
    /// A version (`3.12`, `3.12.1`), optionally of one implementation (`cpython3.12`, `pypy3.9`).
    Version {
        /// `cpython`, `pypy`, or any.
        implementation: Option<String>,
        /// The version's numbers; a prefix of the interpreter's full version must equal them.
        numbers: Vec<u32>,
    },
}

/// A `--python` value that is empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an interpreter request cannot be empty")]
pub struct ParseRequestError;

fn parse_numbers(text: &str) -> Option<Vec<u32>> {
    if text.is_empty() {
        return None;
    }
    text.split('.').map(|part| part.parse().ok()).collect()
}

/// `cpython3.12` → (`cpython`, [3, 12]); `python3` → (`cpython`, [3]).
fn split_implementation(text: &str) -> Option<(String, Vec<u32>)> {
    let digits = text.find(|c: char| c.is_ascii_digit())?;
    let (name, version) = text.split_at(digits);
    let implementation = match name {
        "cpython" | "python" | "cp" => "cpython",
        "pypy" | "pp" => "pypy",
        _ => return None,
    };
    Some((implementation.to_owned(), parse_numbers(version)?))
}

impl FromStr for InterpreterRequest {
    type Err = ParseRequestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(ParseRequestError);
        }
        if text == "all" {
            return Ok(InterpreterRequest::All);
        }
        if text.contains('/') {
            return Ok(InterpreterRequest::Path(PathBuf::from(text)));
        }
        if let Some(numbers) = parse_numbers(text) {
            return Ok(InterpreterRequest::Version {
                implementation: None,
                numbers,
            });
        }
        if let Some(rest) = text.strip_prefix("cpython")
            && let Some(numbers) = parse_numbers(rest)
        {
            return Ok(InterpreterRequest::Version {
                implementation: Some("cpython".to_owned()),
                numbers,
            });
        }
        Ok(InterpreterRequest::Command(text.to_owned()))
    }
}

impl fmt::Display for InterpreterRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpreterRequest::All => f.write_str("all"),
            InterpreterRequest::Path(path) => write!(f, "{}", path.display()),
            InterpreterRequest::Command(name) => f.write_str(name),
            InterpreterRequest::Version {
                implementation,
                numbers,
            } => {
                let numbers: Vec<String> = numbers.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "{}{}",
                    implementation.as_deref().unwrap_or(""),
                    numbers.join(".")
                )
            }
        }
    }
}

fn version_matches(
    interpreter: &Interpreter,
    implementation: Option<&str>,
    numbers: &[u32],
) -> bool {
    let full: Vec<u32> = interpreter
        .full_version()
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    implementation.is_none_or(|i| i == interpreter.implementation()) && full.starts_with(numbers)
}

impl InterpreterRequest {
    /// The interpreters this request names: one, except for [`InterpreterRequest::All`].
    ///
    /// # Errors
    ///
    /// When nothing matches or the named executable cannot be probed.
    pub fn resolve(
        &self,
        options: &DiscoveryOptions,
    ) -> Result<Vec<Interpreter>, InterpreterError> {
        let by_version = |implementation: Option<&str>, numbers: &[u32]| {
            let (found, _) = discover(options);
            found
                .into_iter()
                .find(|i| version_matches(i, implementation, numbers))
                .map(|i| vec![i])
                .ok_or_else(|| InterpreterError::not_found(&self.to_string()))
        };
        match self {
            InterpreterRequest::All => {
                let (found, _) = discover(options);
                if found.is_empty() {
                    return Err(InterpreterError::not_found("all"));
                }
                Ok(found)
            }
            InterpreterRequest::Path(path) => Interpreter::probe(path).map(|i| vec![i]),
            InterpreterRequest::Command(name) => match find_command(name, options) {
                Some(path) => Interpreter::probe(&path).map(|i| vec![i]),
                None => match split_implementation(name) {
                    Some((implementation, numbers)) => by_version(Some(&implementation), &numbers),
                    None => Err(InterpreterError::not_found(name)),
                },
            },
            InterpreterRequest::Version {
                implementation,
                numbers,
            } => by_version(implementation.as_deref(), numbers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        let version = |implementation: Option<&str>, numbers: &[u32]| InterpreterRequest::Version {
            implementation: implementation.map(str::to_owned),
            numbers: numbers.to_vec(),
        };
        assert_eq!("all".parse(), Ok(InterpreterRequest::All));
        assert_eq!("3.12".parse(), Ok(version(None, &[3, 12])));
        assert_eq!("3.12.1".parse(), Ok(version(None, &[3, 12, 1])));
        assert_eq!(
            "cpython3.12".parse(),
            Ok(version(Some("cpython"), &[3, 12]))
        );
        assert_eq!(
            "pypy3.9".parse(),
            Ok(InterpreterRequest::Command("pypy3.9".into()))
        );
        assert_eq!("./py".parse(), Ok(InterpreterRequest::Path("./py".into())));
        assert_eq!("".parse::<InterpreterRequest>(), Err(ParseRequestError));
        assert_eq!(
            split_implementation("pypy3.9"),
            Some(("pypy".into(), vec![3, 9]))
        );
        assert_eq!(
            split_implementation("python3"),
            Some(("cpython".into(), vec![3]))
        );
    }
}
