#!/usr/bin/env bash
# Packaging checks, run by .ci/run: every crate is accepted by `cargo package`; every line of the
# README's Install section installs a `pycache` that runs and compiles a small tree from a fresh
# virtualenv (whose interpreter is then the default, as for any user); the wheel built by
# maturin installs and runs; the completion scripts and the man page are generated and checked.
# It installs uv, pipx and maturin from PyPI into a throw-away virtualenv; it leaves nothing
# behind but build output under target/packaging.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
work="$(mktemp -d)"
trap 'rm -rf "$work" "$repo/dist"' EXIT
export CARGO_TARGET_DIR="$repo/target/packaging"   # every build below shares one target dir
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n== %s\n' "$*"; }

step "cargo package (every crate)"
cargo package --workspace --no-verify --quiet
ls "$CARGO_TARGET_DIR"/package/*.crate

step "tools from PyPI: uv, pipx, maturin"
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q uv pipx maturin

# A small tree to compile with each installed pycache.
tree="$work/tree"
mkdir -p "$tree/pkg"
printf 'x = 1\n' > "$tree/pkg/__init__.py"
printf 'def f():\n    return "é"\n' > "$tree/pkg/mod.py"

# Runs one README install line in a fresh virtualenv, then the pycache it installed.
try_install_line() {
    local n="$1" line="$2" dir="$work/install-$1"
    step "README install line $n: $line"
    python3 -m venv "$dir/venv"
    mkdir -p "$dir/bin"
    (
        # shellcheck disable=SC1091
        . "$dir/venv/bin/activate"
        export PATH="$dir/bin:$PATH:$work/tools/bin"
        export UV_TOOL_DIR="$dir/uv-tools" UV_TOOL_BIN_DIR="$dir/bin" UV_CACHE_DIR="$dir/uv-cache"
        export PIPX_HOME="$dir/pipx" PIPX_BIN_DIR="$dir/bin" CARGO_INSTALL_ROOT="$dir"
        bash -euo pipefail -c "$line"
        if compgen -G "dist/pycache-*.whl" >/dev/null; then
            pip install -q dist/pycache-*.whl
            rm -rf dist
        fi
        exe="$(command -v pycache)"
        case "$exe" in
            "$dir"/*) ;;
            *) echo "line $n installed no pycache under $dir (found: $exe)" >&2; exit 1 ;;
        esac
        "$exe" --version
        rm -rf "$tree/pkg/__pycache__"
        "$exe" compile "$tree"
        "$exe" check "$tree"
        test -f "$tree/pkg/__pycache__/mod.$(python -c 'import sys; print(sys.implementation.cache_tag)').pyc"
    )
}

lines="$(sed -n '/^<!-- install: each line/,/^<!-- install: end -->/p' README.md \
    | sed -n '/^```sh$/,/^```$/p' | grep -v '^```' | sed 's/ *#.*$//' | grep -v '^$')"
count=0
while IFS= read -r line; do
    count=$((count + 1))
    try_install_line "$count" "$line"
done <<< "$lines"
[ "$count" -ge 4 ] || { echo "the README's Install section has $count lines, expected at least 4" >&2; exit 1; }

cargo build --release --quiet -p pycache-cli
pycache="$CARGO_TARGET_DIR/release/pycache"
step "completions"
"$pycache" completions bash > "$work/pycache.bash"
bash -n "$work/pycache.bash"
bash -c ". '$work/pycache.bash' && complete -p pycache" | grep -q -- '-F _pycache pycache'
for shell in zsh fish powershell elvish; do
    "$pycache" completions "$shell" > "$work/completion.$shell"
    grep -q compile "$work/completion.$shell"
done
if command -v zsh >/dev/null; then zsh -n "$work/completion.zsh"; fi
if command -v fish >/dev/null; then fish --no-execute "$work/completion.fish"; fi

step "man page"
"$pycache" man > "$work/pycache.1"
MANWIDTH=100 man --warnings -l "$work/pycache.1" > "$work/pycache.txt" 2> "$work/man-warnings.txt"
if [ -s "$work/man-warnings.txt" ]; then cat "$work/man-warnings.txt" >&2; exit 1; fi
for word in "PYCACHE COMPILE" "--invalidation-mode" "PYCACHE CHECK" "SOURCE_DATE_EPOCH" "Exit status"; do
    grep -q -- "$word" "$work/pycache.txt" || { echo "man page lacks '$word'" >&2; exit 1; }
done
echo "packaging checks passed: $count install lines, $(ls "$CARGO_TARGET_DIR"/package/*.crate | wc -l) crates"
