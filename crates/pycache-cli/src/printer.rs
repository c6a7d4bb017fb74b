//! The one place that writes to the terminal.
//!
//! Commands hand results to a [`Printer`] instead of calling `println!`, so that `--json`, quiet
//! levels, progress bars and broken pipes are handled in one spot. Paths are written as raw
//! bytes: a non-UTF-8 file name comes out exactly as it is on disk.
//!
//! When the reader of stdout goes away (`pycache check | head -2`), printing stops quietly and
//! the command goes on to the exit status it would have had (a gate piped into `head` still
//! fails when something is stale). Any other failure to write stdout (`> /dev/full`) is an error
//! (exit 1). While a progress bar is drawn, every message is printed inside
//! [`indicatif::ProgressBar::suspend`], so no copy of the bar is left behind on the terminal.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when writing stdout failed for another reason than a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// True when a write to stdout failed (other than a broken pipe): the run exits 1.
pub(crate) fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// Writes results to stdout and diagnostics to stderr.
#[derive(Debug)]
pub(crate) struct Printer {
    out: io::BufWriter<io::Stdout>,
    /// The reader of stdout is gone: nothing more is written there.
    closed: bool,
    progress: Option<indicatif::ProgressBar>,
}

impl Printer {
    pub(crate) fn new() -> Self {
        Printer {
            out: io::BufWriter::new(io::stdout()),
            closed: false,
            progress: None,
        }
    }

    /// Treats a broken pipe as the end of printing; any other error is returned, named.
    fn outcome(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(error) => {
                self.closed = true;
                STDOUT_FAILED.store(true, Ordering::Relaxed);
                Err(io::Error::new(
                    error.kind(),
                    format!("cannot write to stdout: {}", plain(&error.to_string())),
                ))
            }
            Ok(()) => Ok(()),
        }
    }

    fn write(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let out = &mut self.out;
        let mut write = |flush: bool| -> io::Result<()> {
            for part in parts {
                out.write_all(part)?;
            }
            if flush { out.flush() } else { Ok(()) }
        };
        let result = match &self.progress {
            Some(bar) => bar.suspend(|| write(true)),
            None => write(false),
        };
        self.outcome(result)
    }

    /// One line of output (raw bytes, a newline added).
    pub(crate) fn line_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write(&[bytes, b"\n"])
    }

    /// Bytes written as they are (a generated script or page).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.flush()
    }

    /// One line of text output.
    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        self.line_bytes(text.as_bytes())
    }

    /// A JSON document on stdout, with `"version": 1` added when it is an object (see
    /// docs/json.md); paths made by [`crate::json_path::path`] keep their exact bytes.
    pub(crate) fn json(&mut self, value: &serde_json::Value) -> io::Result<()> {
        let value = match value {
            serde_json::Value::Object(fields) => {
                let mut document = fields.clone();
                document.insert("version".to_owned(), serde_json::json!(1));
                serde_json::Value::Object(document)
            }
            other => other.clone(),
        };
        let text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
        let text = crate::json_path::escape_surrogates(&text);
        self.write(&[text.as_bytes(), b"\n"])
    }

    /// An error about one input, on stderr (stdout is flushed first to keep the order).
    pub(crate) fn error(&mut self, message: &str) -> io::Result<()> {
        self.stderr(format!("pycache: error: {}\n", plain(message)).as_bytes())
    }

    /// Text for stderr as it is (a compiler's message), stdout flushed first.
    pub(crate) fn stderr(&mut self, text: &[u8]) -> io::Result<()> {
        self.flush()?;
        let write = || {
            let _ = io::stderr().lock().write_all(text);
        };
        match &self.progress {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
        Ok(())
    }

    /// Draws `bar` (on stderr) until [`Printer::finish_progress`]; messages are printed around it.
    pub(crate) fn start_progress(&mut self, bar: indicatif::ProgressBar) {
        self.progress = Some(bar);
    }

    /// A notice about one input that is not an error, on stderr (around the progress bar).
    pub(crate) fn warning(&mut self, message: &str) -> io::Result<()> {
        self.stderr(format!("pycache: warning: {message}\n").as_bytes())
    }

    /// The progress bar being drawn, if any.
    pub(crate) fn progress(&self) -> Option<&indicatif::ProgressBar> {
        self.progress.as_ref()
    }

    /// Removes the progress bar.
    pub(crate) fn finish_progress(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.out.flush();
        self.outcome(result)
    }
}

/// `1 file`, `2 files`: a count with its noun in the right number.
pub(crate) fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// `message` without Rust's ` (os error 13)` after the system's own words.
pub(crate) fn plain(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" (os error ") {
        let after = &rest[at + " (os error ".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(" (os error ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Writes `pycache: error: MESSAGE` to stderr; failures to write it are ignored.
pub(crate) fn error_line(message: &str) {
    let _ = writeln!(io::stderr().lock(), "pycache: error: {}", plain(message));
}

/// Whether notes (`pycache: note: ...`) are printed; `-q` turns them off.
static NOTES: AtomicBool = AtomicBool::new(true);

/// Turns notes off (for `-q` and `-qq`).
pub(crate) fn silence_notes() {
    NOTES.store(false, Ordering::Relaxed);
}

/// Writes `pycache: note: MESSAGE` to stderr (unless silenced); failures to write are ignored.
pub(crate) fn note_line(message: &str) {
    if NOTES.load(Ordering::Relaxed) {
        let _ = writeln!(io::stderr().lock(), "pycache: note: {}", plain(message));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_error_numbers_are_dropped() {
        assert_eq!(
            super::plain("Can't list 'x': Permission denied (os error 13)"),
            "Can't list 'x': Permission denied"
        );
        assert_eq!(super::plain("a (os error x) b"), "a (os error x) b");
    }
}
