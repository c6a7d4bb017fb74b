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
