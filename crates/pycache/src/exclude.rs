//! compileall's `-x REGEXP`: skip the files whose full path `re.search` finds the pattern in,
//! with the pattern read in Python's `re` syntax.
//!
//! The matching is done by `fancy-regex`, whose syntax differs from Python's in places that
//! users of `-x` meet: `\Z` (Python's end of string), `$` (Python's also matches before a final
//! newline), `[[:alpha:]]` (a POSIX class to Rust, a plain character class followed by `]` to
//! Python), `(?P=name)`, `{` that is not a repetition, `\uXXXX`, octal escapes, `(?#...)`, the
//! `a` and `u` flags. [`translate`] rewrites a Python pattern into the same pattern in
//! fancy-regex's syntax, and refuses (with Python's words where it can) what Python refuses.
//! What it does not translate (`\N{...}`, scoped `(?a:...)`) is refused, never guessed.
//!
//! A path that is not UTF-8 is matched in its lossy form (U+FFFD for each bad byte), where
//! Python sees lone surrogates: a pattern that names such a byte cannot match it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex};

/// A `-x` pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct PatternError {
    message: String,
    position: usize,
}

/// A compiled `-x` pattern. Matching never fails loudly: an error while matching (the
/// backtracking limit) is remembered, [`Exclude::failure`] returns it, and the path counts as
/// not excluded.
#[derive(Debug, Clone)]
pub struct Exclude {
    regex: fancy_regex::Regex,
    failure: Arc<Mutex<Option<String>>>,
}

impl Exclude {
    /// Compiles `pattern`, written in Python's `re` syntax.
    ///
    /// # Errors
    ///
    /// When Python's `re.compile` would refuse it, or it uses what is not translated.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let translated = translate(pattern)?;
        let regex = fancy_regex::RegexBuilder::new(&translated)
            .backtrack_limit(10_000_000)
            .build()
            .map_err(|e| PatternError {
                message: e.to_string(),
                position: 0,
            })?;
        Ok(Exclude {
            regex,
            failure: Arc::new(Mutex::new(None)),
        })
    }

    /// `re.search(pattern, path)` is not `None`.
    pub fn is_match(&self, path: &OsStr) -> bool {
        let text = String::from_utf8_lossy(path.as_bytes());
        match self.regex.is_match(&text) {
            Ok(found) => found,
            Err(error) => {
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                failure.get_or_insert_with(|| format!("{error} while matching {text:?}"));
                false
            }
        }
    }

    /// The first error met while matching, if any.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn error(message: impl Into<String>, position: usize) -> PatternError {
    PatternError {
        message: message.into(),
        position,
    }
}

/// Reads Python's `{m,n}` at `chars[at]` (`{`): the repetition in fancy-regex's syntax, and
/// where it ends; `None` when Python reads the `{` as a literal.
fn repetition(chars: &[char], at: usize) -> Option<(String, usize)> {
    let end = at + chars[at..].iter().position(|&c| c == '}')?;
    let inner: String = chars[at + 1..end].iter().collect();
    let (low, high) = match inner.split_once(',') {
        Some((low, high)) => (low, Some(high)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(low) || !high.is_none_or(digits) || (low.is_empty() && high.is_none()) {
        return None;
    }
    let low = if low.is_empty() { "0" } else { low };
    let text = match high {
        None => format!("{{{low}}}"),
        Some(high) => format!("{{{low},{high}}}"),
    };
    Some((text, end + 1))
}

fn hex_escape(c: char) -> String {
    format!("\\x{{{:x}}}", u32::from(c))
}

/// Reads `count` hex digits after `chars[at]`, as a character.
fn hex_char(chars: &[char], at: usize, count: usize) -> Result<char, PatternError> {
    let digits: String = chars.iter().skip(at + 1).take(count).collect();
    if digits.len() != count || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(error(
            format!("incomplete escape \\{}{digits}", chars[at]),
            at - 1,
        ));
    }
    u32::from_str_radix(&digits, 16)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(|| error(format!("bad escape \\{}{digits}", chars[at]), at - 1))
}

/// The flags of a group starting `(?` at `chars[at]`, when it is one: (flags on, flags off,
/// whether it is scoped `(?x:...)`, where the flags end).
fn inline_flags(chars: &[char], at: usize) -> Option<(String, String, bool, usize)> {
    let mut on = String::new();
    let mut off = String::new();
    let mut i = at + 2;
    let mut negative = false;
    while let Some(&c) = chars.get(i) {
        match c {
            'a' | 'i' | 'L' | 'm' | 's' | 'u' | 'x' => {
                if negative { &mut off } else { &mut on }.push(c);
            }
            '-' if !negative => negative = true,
            ')' | ':' => {
                return (!on.is_empty() || !off.is_empty()).then_some((on, off, c == ':', i));
            }
            _ => return None,
        }
        i += 1;
    }
    None
}

/// Python's `\d`, `\w`, `\s` and their negations, restricted to ASCII (the `a` flag).
fn ascii_class(c: char, in_class: bool) -> String {
    let body = match c.to_ascii_lowercase() {
        'd' => "0-9",
        'w' => "0-9A-Za-z_",
        _ => " \\t\\n\\r\\x{c}\\x{b}",
    };
    match (c.is_ascii_uppercase(), in_class) {
        (false, true) => body.to_owned(),
        (false, false) => format!("[{body}]"),
        (true, _) => format!("[^{body}]"),
    }
}

/// Translates a backslash escape at `chars[at]` (the `\`); returns the text and the next index.
fn escape(
    chars: &[char],
    at: usize,
    in_class: bool,
    ascii: bool,
) -> Result<(String, usize), PatternError> {
    let Some(&c) = chars.get(at + 1) else {
        return Err(error("bad escape (end of pattern)", at));
    };
    let next = at + 2;
    let text = match c {
        'd' | 'D' | 'w' | 'W' | 's' | 'S' if ascii => ascii_class(c, in_class),
        'D' | 'W' | 'S' if in_class => format!("\\{c}"),
        'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'a' | 'f' | 'n' | 'r' | 't' | 'v' => format!("\\{c}"),
        'b' if in_class => "\\x{8}".to_owned(),
        'A' | 'b' | 'B' if !in_class => format!("\\{c}"),
        'Z' if !in_class => "\\z".to_owned(),
        'x' => return Ok((hex_escape(hex_char(chars, at + 1, 2)?), next + 2)),
        'u' => return Ok((hex_escape(hex_char(chars, at + 1, 4)?), next + 4)),
        'U' => return Ok((hex_escape(hex_char(chars, at + 1, 8)?), next + 8)),
        '0'..='7' => {
            let octal: String = chars[at + 1..]
                .iter()
                .take(3)
                .take_while(|c| c.is_digit(8))
                .collect();
            let is_octal = c == '0' || octal.len() == 3 || in_class;
            if is_octal {
                let value = u32::from_str_radix(&octal, 8).unwrap_or(0);
                if value > 0o377 {
                    return Err(error(
                        format!("octal escape value \\{octal} outside of range 0-0o377"),
                        at,
                    ));
                }
                let c = char::from_u32(value).unwrap_or('\0');
                return Ok((hex_escape(c), at + 1 + octal.len()));
            }
            return group_reference(chars, at);
        }
        '8' | '9' if !in_class => return group_reference(chars, at),
        c if c.is_ascii_alphanumeric() => {
            return Err(error(format!("bad escape \\{c}"), at));
        }
        c => hex_escape(c),
    };
    Ok((text, next))
}

/// `\1` to `\99`: a reference to a group.
fn group_reference(chars: &[char], at: usize) -> Result<(String, usize), PatternError> {
    let digits: String = chars[at + 1..]
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Ok((format!("\\{digits}"), at + 1 + digits.len()))
}

/// Rewrites `pattern` (Python's `re` syntax) in fancy-regex's syntax (see the module docs).
///
/// # Errors
///
/// For escapes Python refuses, and for what is not translated.
pub fn translate(pattern: &str) -> Result<String, PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let (ascii, multiline) = global_flags(&chars);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if in_class {
            (in_class, i) = class_char(&chars, i, ascii, &mut out)?;
            continue;
        }
        match c {
            '\\' => {
                let (text, next) = escape(&chars, i, false, ascii)?;
                out.push_str(&text);
                i = next;
                continue;
            }
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '$' if !multiline => out.push_str("(?=\\n?\\z)"),
            '{' => match repetition(&chars, i) {
                Some((text, next)) => {
                    out.push_str(&text);
                    i = next;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' => out.push_str("\\}"),
            '(' if chars.get(i + 1) == Some(&'?') => {
                let (text, next) = group_start(&chars, i)?;
                out.push_str(&text);
                i = next;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    if in_class {
        return Err(error("unterminated character set", pattern.len()));
    }
    Ok(out)
}

/// The global flags `a` (ASCII) and `m` (multiline) set anywhere in the pattern (Python reads
/// them anywhere; 3.11 wants them first).
fn global_flags(chars: &[char]) -> (bool, bool) {
    let (mut ascii, mut multiline) = (false, false);
    for at in 0..chars.len() {
        if chars[at] == '('
            && chars.get(at + 1) == Some(&'?')
            && let Some((on, _, false, _)) = inline_flags(chars, at)
        {
            ascii |= on.contains('a');
            multiline |= on.contains('m');
        }
    }
    (ascii, multiline)
}

/// Translates `chars[at]` inside a character set into `out`; returns whether the set is still
/// open and where to go on.
fn class_char(
    chars: &[char],
    at: usize,
    ascii: bool,
    out: &mut String,
) -> Result<(bool, usize), PatternError> {
    let c = chars[at];
    match c {
        ']' => {
            out.push(']');
            return Ok((false, at + 1));
        }
        '\\' => {
            let (text, next) = escape(chars, at, true, ascii)?;
            out.push_str(&text);
            return Ok((true, next));
        }
        '[' | '&' | '~' => out.push_str(&hex_escape(c)),
        // Rust reads `--` as a set difference; Python as a range ending in `-`.
        '-' if at > 0 && chars[at - 1] == '-' => out.push_str(&hex_escape(c)),
        _ => out.push(c),
    }
    Ok((true, at + 1))
}

/// A group opening `(?...` at `chars[at]`: flags, comments, named groups and references.
fn group_start(chars: &[char], at: usize) -> Result<(String, usize), PatternError> {
    let rest: String = chars[at + 2..].iter().collect();
    if rest.starts_with('#') {
        let end = chars[at..]
            .iter()
            .position(|&c| c == ')')
            .ok_or_else(|| error("missing ), unterminated comment", at))?;
        return Ok((String::new(), at + end + 1));
    }
    if let Some(name) = rest.strip_prefix("P=") {
        let end = name
            .find(')')
            .ok_or_else(|| error("missing ), unterminated name", at + 4))?;
        let name = &name[..end];
        return Ok((format!("\\k<{name}>"), at + 4 + name.chars().count() + 1));
    }
    if rest.starts_with("P<") {
        return Ok(("(?P<".to_owned(), at + 4));
    }
    if let Some((on, off, scoped, end)) = inline_flags(chars, at) {
        if on.contains('L') || off.contains('L') {
            return Err(error(
                "bad inline flag: cannot use 'L' flag with a str pattern",
                at + 2,
            ));
        }
        if scoped && (on.contains('a') || off.contains('a')) {
            return Err(error(
                "the 'a' flag is only supported for the whole pattern",
                at + 2,
            ));
        }
        let keep = |flags: &str| {
            flags
                .chars()
                .filter(|&c| c != 'a' && c != 'u')
                .collect::<String>()
        };
        let (on, off) = (keep(&on), keep(&off));
        let body = if off.is_empty() {
            on
        } else {
            format!("{on}-{off}")
        };
        return Ok(match (scoped, body.is_empty()) {
            (true, true) => ("(?:".to_owned(), end + 1),
            (false, true) => (String::new(), end + 1),
            (true, false) => (format!("(?{body}:"), end + 1),
            (false, false) => (format!("(?{body})"), end + 1),
        });
    }
    Ok(("(?".to_owned(), at + 2))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn python_syntax_becomes_fancy_regex_syntax() {
        for (python, ours) in [
            (r"skip\.py\Z", r"skip\x{2e}py\z"),
            (r"[[:alpha:]]", r"[\x{5b}:alpha:]]"),
            (r"(?P<n>a)(?P=n)", r"(?P<n>a)\k<n>"),
            (r"a{,2}b{x", r"a{0,2}b\{x"),
            (r"\u00e9\101\0", r"\x{e9}\x{41}\x{0}"),
            (r"(?#note)x$", r"x(?=\n?\z)"),
            (r"(?au)\d", r"[0-9]"),
        ] {
            assert_eq!(translate(python).unwrap(), ours, "{python}");
        }
        for bad in [r"\q", r"[abc", r"(?L)x", r"\x4"] {
            assert!(translate(bad).is_err(), "{bad}");
        }
    }
}
