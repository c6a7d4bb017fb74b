//! The one place that writes to the terminal.
//!
//! Commands hand results to a [`Printer`] instead of calling `println!`, so that `--json`, quiet
//! levels and broken pipes are handled in one spot. Paths are written as raw bytes: a non-UTF-8
//! file name comes out exactly as it is on disk.

use std::io::{self, Write};

/// Writes results to stdout and diagnostics to stderr.
#[derive(Debug)]
pub(crate) struct Printer {
    out: io::BufWriter<io::Stdout>,
}

impl Printer {
    pub(crate) fn new() -> Self {
        Printer {
            out: io::BufWriter::new(io::stdout()),
        }
    }

    /// One line of output (raw bytes, a newline added).
    pub(crate) fn line_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.write_all(b"\n")
    }

    /// One line of text output.
    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        self.line_bytes(text.as_bytes())
    }

    /// A JSON document on stdout, with `"version": 1` added first when it is an object (see
    /// docs/json.md); paths made by [`crate::json_path::path`] keep their exact bytes.
    pub(crate) fn json(&mut self, value: &serde_json::Value) -> io::Result<()> {
        let mut document = serde_json::Map::new();
        let value = match value {
            serde_json::Value::Object(fields) => {
                document.insert("version".to_owned(), serde_json::json!(1));
                document.extend(fields.clone());
                serde_json::Value::Object(document)
            }
            other => other.clone(),
        };
        let text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
        self.out
            .write_all(crate::json_path::escape_surrogates(&text).as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// An error about one input, on stderr (stdout is flushed first to keep the order).
    pub(crate) fn error(&mut self, message: &str) -> io::Result<()> {
        self.out.flush()?;
        error_line(message);
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes `pycache: error: MESSAGE` to stderr; failures to write it are ignored.
pub(crate) fn error_line(message: &str) {
    let _ = writeln!(io::stderr().lock(), "pycache: error: {message}");
}

/// Whether notes (`pycache: note: ...`) are printed; `-qq` turns them off.
static NOTES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns notes off (for `-qq`, which prints nothing at all).
pub(crate) fn silence_notes() {
    NOTES.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Writes `pycache: note: MESSAGE` to stderr (unless silenced); failures to write are ignored.
pub(crate) fn note_line(message: &str) {
    if NOTES.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = writeln!(io::stderr().lock(), "pycache: note: {message}");
    }
}
