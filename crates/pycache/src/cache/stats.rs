//! What recent runs got from the cache, for `pycache cache info`'s hit ratio.
//!
//! Each run appends one JSON line to `DIR/runs.jsonl` (one `write` with `O_APPEND`, so lines
//! from concurrent runs do not interleave). The file is cut back to its last
//! [`KEEP_RUNS`] lines when it grows past 64 KiB.

use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::Path;

const FILE: &str = "runs.jsonl";
const KEEP_RUNS: usize = 100;
const MAX_FILE: u64 = 64 << 10;

/// One run's use of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunStats {
    /// Seconds since the epoch when the run ended.
    pub time: u64,
    /// Payloads found in the local cache.
    pub hits: u64,
    /// Payloads found in the remote cache.
    pub remote_hits: u64,
    /// Payloads looked up and not found (compiled).
    pub misses: u64,
    /// Entries that were damaged (and removed).
    pub damaged: u64,
}

impl RunStats {
    /// A run with these counts, ending now.
    pub fn new(hits: u64, remote_hits: u64, misses: u64, damaged: u64) -> Self {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        RunStats {
            time,
            hits,
            remote_hits,
            misses,
            damaged,
        }
    }
}

/// Appends `run` to the statistics kept in `dir`.
///
/// # Errors
/// The I/O error; statistics are best effort, callers may ignore it.
pub fn record_run(dir: &Path, run: &RunStats) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(FILE);
    let mut line = serde_json::to_vec(run).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&path)?;
    file.write_all(&line)?;
    if file.metadata()?.len() > MAX_FILE {
        let keep = recent_runs(dir, KEEP_RUNS)?;
        let mut text = Vec::new();
        for run in &keep {
            text.extend(serde_json::to_vec(run).map_err(io::Error::other)?);
            text.push(b'\n');
        }
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(&text)?;
        temp.persist(&path).map_err(|e| e.error)?;
    }
    Ok(())
}

/// The last `count` runs recorded in `dir`, oldest first (lines that do not parse are
/// skipped).
///
/// # Errors
/// An error reading the file, other than its absence.
pub fn recent_runs(dir: &Path, count: usize) -> io::Result<Vec<RunStats>> {
    let text = match std::fs::read(dir.join(FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let runs: Vec<RunStats> = text
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    Ok(runs[runs.len().saturating_sub(count)..].to_vec())
}
