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

    /// A JSON document on stdout.
    pub(crate) fn json(&mut self, value: &serde_json::Value) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }

    /// An error about one input, on stderr (stdout is flushed first to keep the order).
    pub(crate) fn error(&mut self, message: &str) -> io::Result<()> {
        self.out.flush()?;
        error_line(message);
        Ok(())
    }

    /// A notice about one input that is not an error, on stderr (stdout flushed first).
    pub(crate) fn warning(&mut self, message: &str) -> io::Result<()> {
        self.out.flush()?;
        let _ = writeln!(io::stderr().lock(), "pycache: warning: {message}");
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
