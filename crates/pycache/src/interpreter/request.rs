//! `--python` requests: a path, a command name, a version, an implementation with a version, or
//! `all`.

use super::discovery::{DiscoveryOptions, discover, find_command, same_executable};
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
        /// `cpython` or `pypy`; none means CPython.
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
    // A bare version means CPython: PyPy only when asked for by name.
    implementation.unwrap_or("cpython") == interpreter.implementation()
        && interpreter.version_numbers().starts_with(numbers)
}

/// The command that names `numbers` of `interpreter`'s implementation: `python3.12`, `pypy3.9`.
fn command_name(implementation: &str, numbers: &[u32]) -> String {
    let numbers: Vec<String> = numbers.iter().take(2).map(u32::to_string).collect();
    let name = if implementation == "pypy" {
        "pypy"
    } else {
        "python"
    };
    format!("{name}{}", numbers.join("."))
}

/// Sorts `interpreters` most preferred first: the one the command for `numbers` (`python3.12`)
/// runs on `PATH` (pyenv shims resolved, nothing run), then the newest version.
fn sort_by_preference(
    interpreters: &mut [Interpreter],
    numbers: &[u32],
    options: &DiscoveryOptions,
) {
    let mut on_path: std::collections::HashMap<String, Option<PathBuf>> =
        std::collections::HashMap::new();
    let mut runs_as_command = |interpreter: &Interpreter| {
        let name = command_name(interpreter.implementation(), numbers);
        let found = on_path
            .entry(name)
            .or_insert_with_key(|name| find_command(name, options));
        found
            .as_deref()
            .is_some_and(|path| same_executable(path, interpreter.path()))
    };
    let mut keyed: Vec<(bool, Vec<u32>, Interpreter)> = interpreters
        .iter()
        .map(|i| (runs_as_command(i), i.version_numbers(), i.clone()))
        .collect();
    keyed.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    for (slot, (_, _, interpreter)) in interpreters.iter_mut().zip(keyed) {
        *slot = interpreter;
    }
}

/// An interpreter `--python all` did not select, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeftOut {
    /// The interpreter left out.
    pub interpreter: Interpreter,
    /// Why: `same cache tag as cpython-3.11.7`, `Python 2 is not supported`.
    pub reason: String,
}

/// What `--python all` selects among `found`: one supported interpreter per cache tag (two
/// interpreters with one tag write the same files), the preferred one (see
/// [`InterpreterRequest::resolve`]); the rest are returned with the reason they were left out.
pub fn select_all(
    found: Vec<Interpreter>,
    options: &DiscoveryOptions,
) -> (Vec<Interpreter>, Vec<LeftOut>) {
    let mut left_out = Vec::new();
    let mut by_tag: Vec<(String, Vec<Interpreter>)> = Vec::new();
    for interpreter in found {
        match interpreter.cache_tag() {
            Some(tag) if interpreter.is_supported() => {
                let tag = tag.to_owned();
                match by_tag.iter_mut().find(|(t, _)| *t == tag) {
                    Some((_, group)) => group.push(interpreter),
                    None => by_tag.push((tag, vec![interpreter])),
                }
            }
            _ => {
                let reason = InterpreterError::unsupported(&interpreter).kind.to_string();
                let reason = if interpreter.is_supported() {
                    "it has no cache tag (sys.implementation.cache_tag is None)".to_owned()
                } else {
                    reason
                };
                left_out.push(LeftOut {
                    interpreter,
                    reason,
                });
            }
        }
    }
    let mut chosen = Vec::new();
    for (tag, mut group) in by_tag {
        let numbers = group[0].version_numbers();
        sort_by_preference(&mut group, &numbers[..numbers.len().min(2)], options);
        let mut group = group.into_iter();
        let Some(first) = group.next() else { continue };
        for other in group {
            left_out.push(LeftOut {
                interpreter: other,
                reason: format!("same cache tag ({tag}) as {}", first.display_name()),
            });
        }
        chosen.push(first);
    }
    chosen.sort_by(super::discovery::listing_order);
    (chosen, left_out)
}

fn found_names(found: &[Interpreter]) -> Vec<String> {
    found
        .iter()
        .map(|i| format!("{} {}", i.implementation_name(), i.full_version()))
        .collect()
}

/// Refuses what pycache cannot work with (Python 2, CPython before 3.6).
fn supported(interpreter: Interpreter) -> Result<Interpreter, InterpreterError> {
    if interpreter.is_supported() {
        Ok(interpreter)
    } else {
        Err(InterpreterError::unsupported(&interpreter))
    }
}

impl InterpreterRequest {
    /// The interpreters this request names: one, except for [`InterpreterRequest::All`] (see
    /// [`select_all`]). A bare version means CPython; among several that match, the one its
    /// command (`python3.12`) runs on `PATH` is preferred, then the newest.
    ///
    /// # Errors
    ///
    /// When nothing matches, the named executable cannot be probed, or it is not supported
    /// (Python 2, CPython before 3.6).
    pub fn resolve(
        &self,
        options: &DiscoveryOptions,
    ) -> Result<Vec<Interpreter>, InterpreterError> {
        let by_version = |implementation: Option<&str>, numbers: &[u32]| {
            let (found, _) = discover(options);
            let mut matching: Vec<Interpreter> = found
                .iter()
                .filter(|i| version_matches(i, implementation, numbers))
                .cloned()
                .collect();
            sort_by_preference(&mut matching, numbers, options);
            match matching.into_iter().next() {
                Some(interpreter) => supported(interpreter).map(|i| vec![i]),
                None => Err(InterpreterError::not_found(
                    &self.to_string(),
                    found_names(&found),
                )),
            }
        };
        match self {
            InterpreterRequest::All => {
                let (found, _) = discover(options);
                let (chosen, _) = select_all(found, options);
                if chosen.is_empty() {
                    return Err(InterpreterError::not_found("all", Vec::new()));
                }
                Ok(chosen)
            }
            InterpreterRequest::Path(path) => Interpreter::probe(path)
                .and_then(supported)
                .map(|i| vec![i]),
            InterpreterRequest::Command(name) => match find_command(name, options) {
                Some(path) => Interpreter::probe(&path)
                    .and_then(supported)
                    .map(|i| vec![i]),
                None => match split_implementation(name) {
                    Some((implementation, numbers)) => by_version(Some(&implementation), &numbers),
                    None => Err(InterpreterError::not_found(
                        name,
                        found_names(&discover(options).0),
                    )),
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
