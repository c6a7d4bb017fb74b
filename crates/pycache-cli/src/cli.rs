//! Command-line flags (clap types). Commands turn these into library settings; the library never
//! sees them.

use crate::help;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

/// Python bytecode caches (PEP 3147, 488, 552, 3149), exact and fast.
#[derive(Debug, Parser)]
#[command(
    name = "pycache",
    version,
    about,
    propagate_version = true,
    after_help = help::ENVIRONMENT
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List every Python interpreter found (virtualenv, PATH, pyenv, uv, system).
    #[command(after_help = help::INTERPRETERS)]
    Interpreters(InterpretersArgs),
    /// Print an interpreter's cache tag (what imp.get_tag() returned).
    #[command(after_help = help::TAG)]
    Tag(TagArgs),
    /// Print where each SOURCE's pyc goes (importlib.util.cache_from_source).
    #[command(after_help = help::PATH)]
    Path(PathArgs),
    /// Print the source each PYC belongs to (importlib.util.source_from_cache).
    #[command(after_help = help::SOURCE)]
    Source(SourceArgs),
    /// Describe pyc files: magic, header, invalidation mode, source and freshness.
    #[command(after_help = help::INSPECT)]
    Inspect(InspectArgs),
    /// Byte-compile files and trees for one or many interpreters (a drop-in compileall).
    #[command(after_help = help::COMPILE)]
    Compile(CompileArgs),
    /// Report stale, missing and useless pycs without starting Python (a CI gate).
    #[command(after_help = help::CHECK)]
    Check(CheckArgs),
    /// Remove stale and useless pycs under the given FILE|DIR (at least one), keep what import
    /// would use.
    #[command(after_help = help::CLEAN)]
    Clean(CleanArgs),
    /// List extension modules, their ABI tags, and which file each interpreter would load.
    #[command(after_help = help::EXT)]
    Ext(ExtArgs),
    /// The cache of compiled code: where it is, how full, prune or clear it.
    #[command(subcommand, after_help = help::CACHE)]
    Cache(CacheCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(after_help = help::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from the same definitions as --help.
    #[command(after_help = help::MAN)]
    Man,
}

/// Which sources, and for which interpreters: compileall's selection options, shared by
/// `compile`, `check` and `clean`.
#[derive(Debug, Args)]
pub(crate) struct SelectArgs {
    /// Files and directories; none means each interpreter's sys.path.
    #[arg(value_name = "FILE|DIR")]
    pub(crate) targets: Vec<OsString>,
    /// Don't recurse into subdirectories.
    #[arg(short = 'l', long)]
    pub(crate) no_recursion: bool,
    /// Recurse at most this many levels (overrides -l).
    #[arg(
        short = 'r',
        long,
        value_name = "LEVELS",
        allow_negative_numbers = true,
        value_parser = recursion_depth
    )]
    pub(crate) recursion: Option<usize>,
    /// Skip files whose full path this regular expression (Python re syntax) finds.
    #[arg(short = 'x', long, value_name = "REGEXP")]
    pub(crate) exclude: Option<String>,
    /// Add the files and directories listed in FILE (one per line; - for stdin).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub(crate) input_list: Option<OsString>,
    /// Legacy X.pyc beside X.py instead of __pycache__.
    #[arg(short = 'b', long)]
    pub(crate) legacy: bool,
    /// Optimization level (repeatable); default: the interpreter's own.
    #[arg(
        short = 'o',
        long = "optimize",
        value_name = "LEVEL",
        allow_negative_numbers = true,
        value_parser = optimization_level
    )]
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
    #[command(flatten)]
    pub(crate) cache: CacheArgs,
    /// Force rebuild even if pycs are fresh.
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// -q: errors only; -qq: nothing at all.
    #[arg(short = 'q', long, action = clap::ArgAction::Count)]
    pub(crate) quiet: u8,
    /// Directory to prepend to file paths compiled into code objects (co_filename).
    #[arg(short = 'd', long, value_name = "DESTDIR")]
    pub(crate) ddir: Option<OsString>,
    /// Part of the path to strip from co_filename.
    #[arg(short = 's', long, value_name = "STRIPDIR")]
    pub(crate) stripdir: Option<OsString>,
    /// Path to prepend to co_filename (after -s).
    #[arg(short = 'p', long, value_name = "PREPENDDIR")]
    pub(crate) prependdir: Option<OsString>,
    /// Worker processes across all interpreters (0 = all cores; default all cores).
    #[arg(short = 'j', long = "workers", value_name = "WORKERS", allow_negative_numbers = true, value_parser = worker_count)]
    pub(crate) workers: Option<usize>,
    /// How pycs are invalidated; default timestamp, or checked-hash when SOURCE_DATE_EPOCH is set.
    #[arg(long, value_enum)]
    pub(crate) invalidation_mode: Option<ModeArg>,
    /// Skip symlinked files pointing outside DIR ('' = off).
    #[arg(short = 'e', long = "limit-symlinks", value_name = "DIR")]
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
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    /// Canonical pycs (same bytes whatever the workers, order or history); fresh pycs not in
    /// canonical form are rewritten. Implied by SOURCE_DATE_EPOCH.
    #[arg(long)]
    pub(crate) reproducible: bool,
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
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    /// Print JSON with every entry.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also fail on fresh pycs whose code is not in the canonical (reproducible) form.
    #[arg(long)]
    pub(crate) reproducible: bool,
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
    /// Keep only the pycs of these cache tags (comma-separated): remove every other tag's.
    #[arg(long, value_delimiter = ',', value_name = "TAG,...")]
    pub(crate) keep_tags: Option<Vec<String>>,
    /// Also remove pycs of tags no selected interpreter has.
    #[arg(long)]
    pub(crate) other_tags: bool,
    /// Also remove legacy X.pyc files that have X.py beside them.
    #[arg(long)]
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
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The cache of compiled code, for `compile`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cache of compiled code")]
pub(crate) struct CacheArgs {
    /// Neither read nor write the cache of compiled code (also PYCACHE_NO_CACHE=1).
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// The local cache directory. Default: $PYCACHE_CACHE_DIR/code, else
    /// $XDG_CACHE_HOME/pycache/code, else ~/.cache/pycache/code.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<OsString>,
    /// The local cache's size cap; the least recently used packs of entries go first.
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub(crate) cache_max_size: bytesize::ByteSize,
    /// A shared cache: redis://HOST:PORT/DB, s3://BUCKET/PREFIX, webdav+http(s)://HOST/PATH,
    /// ghac:// (also PYCACHE_REMOTE). Whoever can write to it can put code into your pycs.
    #[arg(long, value_name = "URL")]
    pub(crate) remote: Option<String>,
    /// Read from the remote cache, never write to it (for untrusted jobs; also
    /// PYCACHE_REMOTE_READ_ONLY=1).
    #[arg(long)]
    pub(crate) remote_read_only: bool,
}

/// `pycache cache ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Where the cache is, its size and entries, and the hit ratio of recent runs.
    #[command(after_help = help::CACHE)]
    Info(CacheInfoArgs),
    /// Remove the least recently used packs of entries until the cache fits in --max-size (and merge many small ones).
    #[command(after_help = help::CACHE)]
    Prune(CachePruneArgs),
    /// Remove every entry.
    #[command(after_help = help::CACHE)]
    Clear(CacheDirArgs),
}

/// Which cache directory.
#[derive(Debug, Args)]
pub(crate) struct CacheDirArgs {
    /// The cache directory. Default: $PYCACHE_CACHE_DIR/code, else
    /// $XDG_CACHE_HOME/pycache/code, else ~/.cache/pycache/code.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<OsString>,
}

/// `pycache cache info`.
#[derive(Debug, Args)]
pub(crate) struct CacheInfoArgs {
    #[command(flatten)]
    pub(crate) dir: CacheDirArgs,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `pycache cache prune`.
#[derive(Debug, Args)]
pub(crate) struct CachePruneArgs {
    #[command(flatten)]
    pub(crate) dir: CacheDirArgs,
    /// The size to prune to (e.g. 500MiB, 2GiB, or a number of bytes).
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub(crate) max_size: bytesize::ByteSize,
}

/// `pycache completions SHELL`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// An integer as Python's `int()` reads it (what argparse's `type=int` accepts): whitespace
/// around it, a sign, `_` between digits. `' 0'` is 0, as when `'-o 0'` is one argument.
pub(crate) fn python_int(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid int value: {text:?}");
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return Err(invalid());
    }
    let value: i64 = digits.replace('_', "").parse().map_err(|_| invalid())?;
    Ok(if negative { -value } else { value })
}

/// `-o`: -1 (the interpreter's own), 0, 1 or 2, as `compile(optimize=...)` accepts.
fn optimization_level(text: &str) -> Result<i8, String> {
    match python_int(text)? {
        level @ -1..=2 => Ok(level as i8),
        other => Err(format!(
            "optimization level must be -1, 0, 1 or 2, not {other}"
        )),
    }
}

/// `-r`: compileall recurses only while the depth left is positive, so a negative depth is 0.
fn recursion_depth(text: &str) -> Result<usize, String> {
    Ok(usize::try_from(python_int(text)?.max(0)).unwrap_or(usize::MAX))
}

/// `-j`: 0 or more (compileall refuses a negative count).
fn worker_count(text: &str) -> Result<usize, String> {
    usize::try_from(python_int(text)?).map_err(|_| "the number of workers must be >= 0".to_owned())
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
    #[arg(short = 'o', value_name = "LEVEL", allow_hyphen_values = true)]
    pub(crate) optimization: Option<String>,
    /// The legacy location (compileall -b): SOURCE + "c", beside the source.
    #[arg(short = 'b', long)]
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
    /// Print the code-object tree instead: names, lines, flags, arguments, constants.
    #[arg(long)]
    pub(crate) code: bool,
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
    fn integers_read_as_python_reads_them() {
        for (text, value) in [(" 0", 0), ("-1", -1), ("+2", 2), ("1_0", 10), ("\t3\n", 3)] {
            assert_eq!(super::python_int(text), Ok(value), "{text:?}");
        }
        for bad in ["", "1__0", "_1", "1_", "0x1", "1.0", "- 1"] {
            assert!(super::python_int(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
