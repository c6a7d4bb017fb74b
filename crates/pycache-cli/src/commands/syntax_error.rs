//! Where a compile failure points: the exception, line and column read back from the message
//! `py_compile.PyCompileError` wrote (`traceback.format_exception_only` for a `SyntaxError`,
//! `Sorry: IndentationError: ... (name, line N)` for the rest).
//!
//! The column is `SyntaxError.offset` (1-based, in characters). The message shows the source
//! line with its leading whitespace stripped and a caret under the offset; the whitespace is
//! found again in the source file itself.

use std::path::Path;

/// What a failure message says about its cause.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// `SyntaxError`, `IndentationError`, `ValueError`...
    pub(crate) exception: Option<String>,
    pub(crate) line: Option<u64>,
    pub(crate) column: Option<u64>,
}

/// Reads `message` (about `source`) as described in the module docs.
pub(crate) fn locate(message: &str, source: &Path) -> Location {
    let lines: Vec<&str> = message.lines().collect();
    let mut location = Location::default();
    if let Some(rest) = message.strip_prefix("Sorry: ") {
        let first = rest.lines().next().unwrap_or_default();
        location.exception = first.split_once(": ").map(|(name, _)| name.to_owned());
        location.line = first
            .rsplit_once(", line ")
            .and_then(|(_, n)| n.trim_end_matches(')').parse().ok());
        return location;
    }
    location.exception = lines
        .last()
        .and_then(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|name| !name.is_empty() && !name.contains(' '));
    let Some(at) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("File \""))
    else {
        return location;
    };
    location.line = lines[at]
        .rsplit_once(", line ")
        .and_then(|(_, n)| n.split(',').next()?.trim().parse().ok());
    let (Some(line), Some(shown), Some(caret)) =
        (location.line, lines.get(at + 1), lines.get(at + 2))
    else {
        return location;
    };
    let Some(caret_at) = caret.chars().position(|c| c == '^') else {
        return location;
    };
    let shown = shown.strip_prefix("    ").unwrap_or(shown);
    let Ok(text) = std::fs::read(source) else {
        return location;
    };
    let text = String::from_utf8_lossy(&text);
    let Some(source_line) = text
        .lines()
        .nth(usize::try_from(line).unwrap_or(0).wrapping_sub(1))
    else {
        return location;
    };
    // The characters stripped before the shown text, then the caret's place within it.
    let stripped = source_line
        .find(shown)
        .map(|byte| source_line[..byte].chars().count());
    if let (Some(stripped), Some(under)) = (stripped, caret_at.checked_sub(4)) {
        location.column = Some((stripped + under + 1) as u64);
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("bad.py");
        std::fs::write(&source, "x = 1\nif True:\n    y = (1 +\n         2 +)\n").unwrap();
        let message =
            "  File \"bad.py\", line 4\n    2 +)\n       ^\nSyntaxError: invalid syntax\n";
        assert_eq!(
            locate(message, &source),
            Location {
                exception: Some("SyntaxError".into()),
                line: Some(4),
                column: Some(13),
            }
        );
        let sorry = "Sorry: IndentationError: unexpected indent (bad2.py, line 3)";
        assert_eq!(
            locate(sorry, &source),
            Location {
                exception: Some("IndentationError".into()),
                line: Some(3),
                column: None,
            }
        );
    }
}
