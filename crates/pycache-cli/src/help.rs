//! The texts at the end of each `--help`: two or three examples, the exit statuses, and the
//! environment variables that change what a command does. Kept apart from the flag
//! definitions in `cli.rs` so that both stay readable.

/// Environment variables, listed at the end of `pycache --help` (and in the README).
pub(crate) const ENVIRONMENT: &str = "\
Environment:
  VIRTUAL_ENV           The default interpreter is this virtualenv's (else python3 on PATH)
  PATH, PYENV_ROOT, PYENV_VERSION, UV_PYTHON_INSTALL_DIR
                        Where interpreters are found (pycache interpreters lists them)
  PYTHONPYCACHEPREFIX   sys.pycache_prefix, read by the interpreter (--pycache-prefix overrides)
  SOURCE_DATE_EPOCH     Reproducible build: compile writes checked-hash pycs by default
  PYCACHE_CACHE_DIR     pycache's own cache directory (interpreter probes, remembered
                        failures, compiled code); else $XDG_CACHE_HOME/pycache, else
                        ~/.cache/pycache
  PYCACHE_NO_CACHE      1: compile neither reads nor writes the cache of compiled code
  PYCACHE_REMOTE, PYCACHE_REMOTE_READ_ONLY
                        The remote cache's URL (--remote); 1: only read from it
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL
                        An s3:// remote's credentials, region and endpoint
  PYTHONPATH, PYTHONHOME, PYTHONOPTIMIZE, PYTHONNOUSERSITE, PYTHONUSERBASE, ...
                        Passed to the interpreters, which read them as Python does

Exit status: 0 success, 1 some input failed (the rest was done), 2 usage error,
130 interrupted (Ctrl-C or SIGTERM).";

pub(crate) const COMPILE: &str = "\
Examples:
  pycache compile src/                          Compile for the default interpreter
  pycache compile --python 3.12 --python pypy3 -o 0 -o 1 src/
  pycache compile -j 4 --invalidation-mode checked-hash -d /app --json src/

Exit status: 0 every file compiled or was fresh, 1 some file failed, 2 usage error,
130 interrupted.";

pub(crate) const CHECK: &str = "\
Examples:
  pycache check src/                            Exit 1 if any pyc is stale or missing
  pycache check --python all --missing-ok /usr/lib/python3/dist-packages
  pycache check -v --json src/

Exit status: 0 every pyc is what import would use, 1 something is stale, missing or could not
be read, 2 usage error.";

pub(crate) const CLEAN: &str = "\
Examples:
  pycache clean --dry-run src/                  Show what would be removed
  pycache clean --python 3.12 --other-tags /app Also remove pycs of other interpreters
  pycache clean --all src/                      Remove every pyc and __pycache__

Exit status: 0 everything asked for was removed, 1 something could not be removed, 2 usage
error.";

pub(crate) const INSPECT: &str = "\
Examples:
  pycache inspect __pycache__/mod.cpython-312.pyc
  pycache inspect --json build/*.pyc

Exit status: 0 every pyc was read, 1 some pyc could not be read or is not a pyc, 2 usage error.";

pub(crate) const INTERPRETERS: &str = "\
Examples:
  pycache interpreters
  pycache interpreters --json

Exit status: 0, or 2 when the listing cannot be printed.";

pub(crate) const TAG: &str = "\
Examples:
  pycache tag                                   The default interpreter's tag
  pycache tag --python pypy3

Exit status: 0, 2 when the interpreter cannot be found or has no tag.";

pub(crate) const PATH: &str = "\
Examples:
  pycache path --python 3.12 src/mod.py         src/__pycache__/mod.cpython-312.pyc
  pycache path --tag cpython-311 -o 2 mod.py    __pycache__/mod.cpython-311.opt-2.pyc

Exit status: 0, 1 when some SOURCE has no pyc path, 2 usage error.";

pub(crate) const SOURCE: &str = "\
Examples:
  pycache source --python 3.12 __pycache__/mod.cpython-312.pyc
  pycache source --tag cpython-311 __pycache__/mod.cpython-311.opt-1.pyc

Exit status: 0, 1 when some PYC is not a path in the scheme, 2 usage error.";

pub(crate) const EXT: &str = "\
Examples:
  pycache ext .venv/lib/python3.12/site-packages
  pycache ext --python all --strict build/

Exit status: 0, 1 (with --strict) when a selected interpreter cannot load some extension
module, 2 usage error.";

pub(crate) const COMPLETIONS: &str = "\
Examples:
  pycache completions bash > ~/.local/share/bash-completion/completions/pycache
  pycache completions zsh > ~/.zfunc/_pycache
  pycache completions fish > ~/.config/fish/completions/pycache.fish

Exit status: 0, 2 usage error.";

pub(crate) const MAN: &str = "\
Examples:
  pycache man | man -l -
  pycache man > /usr/local/share/man/man1/pycache.1

Exit status: 0, 2 usage error.";

pub(crate) const CACHE: &str = "\
Examples:
  pycache cache info                            Where the cache is, how full, recent hit ratio
  pycache cache prune --max-size 500MiB
  pycache cache clear

Exit status: 0, 1 when the cache directory cannot be read or changed, 2 usage error.";
