//! Command-line flags (clap types). Commands turn these into library settings; the library never
//! sees them.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

/// Python bytecode caches (PEP 3147, 488, 552, 3149), exact and fast.
#[derive(Debug, Parser)]
#[command(name = "pycache", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List every Python interpreter found (virtualenv, PATH, pyenv, uv, system).
    Interpreters(InterpretersArgs),
    /// Print an interpreter's cache tag (what imp.get_tag() returned).
    Tag(TagArgs),
    /// Print where each SOURCE's pyc goes (importlib.util.cache_from_source).
    Path(PathArgs),
    /// Print the source each PYC belongs to (importlib.util.source_from_cache).
    Source(SourceArgs),
    /// Describe pyc files: magic, header, invalidation mode, source and freshness.
    Inspect(InspectArgs),
    /// Byte-compile files and trees for one or many interpreters (a drop-in compileall).
    Compile(CompileArgs),
    /// Report stale, missing and useless pycs without starting Python (a CI gate).
    Check(CheckArgs),
    /// Remove stale and useless pycs, keep what import would use.
    Clean(CleanArgs),
    /// List extension modules, their ABI tags, and which file each interpreter would load.
    Ext(ExtArgs),
}

/// Which sources, and for which interpreters: compileall's selection options, shared by
/// `compile`, `check` and `clean`.
#[derive(Debug, Args)]
pub(crate) struct SelectArgs {
    /// Files and directories; none means each interpreter's sys.path.
    #[arg(value_name = "FILE|DIR")]
    pub(crate) targets: Vec<OsString>,
    /// Don't recurse into subdirectories.
    #[arg(short = 'l')]
    pub(crate) no_recursion: bool,
    /// Recurse at most this many levels (overrides -l).
    #[arg(short = 'r', value_name = "RECURSION")]
    pub(crate) recursion: Option<usize>,
    /// Skip files whose full path this regular expression (Python re syntax) finds.
    #[arg(short = 'x', value_name = "REGEXP")]
    pub(crate) exclude: Option<String>,
    /// Add the files and directories listed in FILE (one per line; - for stdin).
    #[arg(short = 'i', value_name = "FILE")]
    pub(crate) input_list: Option<OsString>,
    /// Legacy X.pyc beside X.py instead of __pycache__.
    #[arg(short = 'b')]
    pub(crate) legacy: bool,
    /// Optimization level (repeatable); default: the interpreter's own.
    #[arg(short = 'o', value_name = "LEVEL", allow_negative_numbers = true)]
    pub(crate) levels: Vec<i8>,
    /// sys.pycache_prefix. Default: PYTHONPYCACHEPREFIX, as the interpreter reads it.
    #[arg(long, value_name = "DIR")]
    pub(crate) pycache_prefix: Option<OsString>,
    /// Interpreter (repeatable; `all` = every one found). Default: $VIRTUAL_ENV's, else python3.
    #[arg(long)]
    pub(crate) python: Vec<String>,
}

/// `pycache compile`: compileall's options with the same letters, plus pycache's.
#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Force rebuild even if pycs are fresh.
    #[arg(short = 'f')]
    pub(crate) force: bool,
    /// -q: errors only; -qq: nothing at all.
    #[arg(short = 'q', action = clap::ArgAction::Count)]
    pub(crate) quiet: u8,
    /// Directory to prepend to file paths compiled into code objects (co_filename).
    #[arg(short = 'd', value_name = "DESTDIR")]
    pub(crate) ddir: Option<OsString>,
    /// Part of the path to strip from co_filename.
    #[arg(short = 's', value_name = "STRIPDIR")]
    pub(crate) stripdir: Option<OsString>,
    /// Path to prepend to co_filename (after -s).
    #[arg(short = 'p', value_name = "PREPENDDIR")]
    pub(crate) prependdir: Option<OsString>,
    /// Worker processes across all interpreters (0 = all cores; default all cores).
    #[arg(short = 'j', long = "workers", value_name = "WORKERS")]
    pub(crate) workers: Option<usize>,
    /// How pycs are invalidated; default timestamp, or checked-hash when SOURCE_DATE_EPOCH is set.
    #[arg(long, value_enum)]
    pub(crate) invalidation_mode: Option<ModeArg>,
    /// Skip symlinked files pointing outside DIR ('' = off).
    #[arg(short = 'e', value_name = "DIR")]
    pub(crate) limit_symlinks: Option<OsString>,
    /// Hard-link identical pycs of consecutive optimization levels.
    #[arg(long)]
    pub(crate) hardlink_dupes: bool,
    /// Read fresh pycs whole and compile again those whose payload does not parse.
    #[arg(long)]
    pub(crate) verify: bool,
    /// Per-file timeout in seconds (0 = none).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = timeout_seconds)]
    pub(crate) timeout: f64,
    /// Print a JSON summary and the list of failures.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print a `Compiling 'path'...` line per compiled file.
    #[arg(short = 'v')]
    pub(crate) verbose: bool,
}

/// `pycache check`: is every pyc what import would use?
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Missing pycs pass (only stale ones fail).
    #[arg(long)]
    pub(crate) missing_ok: bool,
    /// --check-hash-based-pycs mode import runs with.
    #[arg(long, value_enum, default_value = "default")]
    pub(crate) check_hash_based_pycs: CheckHashArg,
    /// List every entry, not just counts.
    #[arg(short = 'v')]
    pub(crate) verbose: bool,
    /// Print JSON with every entry.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `pycache ext`: ABI-tagged extension modules (PEP 3149) and who can load them.
#[derive(Debug, Args)]
pub(crate) struct ExtArgs {
    /// Files and directories to search; none means each interpreter's sys.path.
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<OsString>,
    /// Interpreter (repeatable; `all` = every one found). Default: $VIRTUAL_ENV's, else python3.
    #[arg(long)]
    pub(crate) python: Vec<String>,
    /// Exit 1 when a selected interpreter cannot load some extension module in the tree.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `pycache clean`: remove what is stale or useless, keep what import would use.
#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Also remove pycs of cache tags not in this comma-separated list.
    #[arg(long, value_delimiter = ',', value_name = "KEEP")]
    pub(crate) tags: Option<Vec<String>>,
    /// Also remove pycs of tags no selected interpreter has.
    #[arg(long)]
    pub(crate) other_tags: bool,
    /// Also remove legacy X.pyc files that have X.py beside them.
    #[arg(long = "legacy")]
    pub(crate) remove_legacy: bool,
    /// Also remove legacy X.pyc files with no source (importable on their own!).
    #[arg(long)]
    pub(crate) sourceless: bool,
    /// Remove every pyc and __pycache__ (like pyclean).
    #[arg(long)]
    pub(crate) all: bool,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// List every file removed.
    #[arg(short = 'v')]
    pub(crate) verbose: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ModeArg {
    Timestamp,
    CheckedHash,
    UncheckedHash,
}

impl From<ModeArg> for pycache::InvalidationMode {
    fn from(value: ModeArg) -> Self {
        match value {
            ModeArg::Timestamp => pycache::InvalidationMode::Timestamp,
            ModeArg::CheckedHash => pycache::InvalidationMode::CheckedHash,
            ModeArg::UncheckedHash => pycache::InvalidationMode::UncheckedHash,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct InterpretersArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    /// The interpreter: a path, a command (python3.12), a version (3.12), cpython3.12, pypy3.9.
    /// Default: $VIRTUAL_ENV's, else python3 on PATH.
    #[arg(long)]
    pub(crate) python: Option<String>,
}

/// Which cache scheme to follow: an interpreter's, or one given by its tag alone.
#[derive(Debug, Args)]
pub(crate) struct SchemeArgs {
    /// The interpreter whose scheme to follow (see `pycache tag --help`); `all` for every one.
    #[arg(long, conflicts_with = "tag")]
    pub(crate) python: Option<String>,
    /// Follow the scheme of this cache tag (e.g. cpython-312) without running an interpreter.
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// sys.pycache_prefix to use. Default: PYTHONPYCACHEPREFIX, as the interpreter reads it.
    #[arg(long, value_name = "DIR")]
    pub(crate) pycache_prefix: Option<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct PathArgs {
    #[command(flatten)]
    pub(crate) scheme: SchemeArgs,
    /// Optimization level for the name (opt-LEVEL); absent: the interpreter's own (none).
    #[arg(short = 'o', value_name = "LEVEL")]
    pub(crate) optimization: Option<String>,
    /// The legacy location (compileall -b): SOURCE + "c", beside the source.
    #[arg(short = 'b')]
    pub(crate) legacy: bool,
    /// Source files (they need not exist).
    #[arg(required = true, value_name = "SOURCE")]
    pub(crate) sources: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    #[command(flatten)]
    pub(crate) scheme: SchemeArgs,
    /// pyc paths (they need not exist).
    #[arg(required = true, value_name = "PYC")]
    pub(crate) pycs: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// --check-hash-based-pycs mode used to judge freshness.
    #[arg(long, value_enum, default_value = "default")]
    pub(crate) check_hash_based_pycs: CheckHashArg,
    /// pyc files.
    #[arg(required = true, value_name = "PYC")]
    pub(crate) pycs: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum CheckHashArg {
    Default,
    Always,
    Never,
}

impl From<CheckHashArg> for pycache::CheckHashBasedPycs {
    fn from(value: CheckHashArg) -> Self {
        match value {
            CheckHashArg::Default => pycache::CheckHashBasedPycs::Default,
            CheckHashArg::Always => pycache::CheckHashBasedPycs::Always,
            CheckHashArg::Never => pycache::CheckHashBasedPycs::Never,
        }
    }
}

/// The longest `--timeout` accepted: a year, far past any compile and far from overflowing a
/// clock.
const MAX_TIMEOUT_SECONDS: f64 = 365.0 * 86_400.0;

/// `--timeout`: finite seconds from 0 (no timeout) to [`MAX_TIMEOUT_SECONDS`].
fn timeout_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !seconds.is_finite() || !(0.0..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
        return Err(format!(
            "{text:?}: the timeout must be between 0 (none) and {MAX_TIMEOUT_SECONDS} seconds"
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
