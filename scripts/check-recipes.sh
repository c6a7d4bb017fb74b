#!/usr/bin/env bash
# The README's first cache recipe, run for real: a project's virtualenv made by uv (from PyPI)
# without compiling, then compiled by pycache; a second project with the same packages gets
# them from the cache without compiling, and import uses every pyc. Run by .ci/run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --quiet --manifest-path "$repo/Cargo.toml" -p pycache-cli
pycache="${CARGO_TARGET_DIR:-$repo/target}/debug/pycache"

python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q --disable-pip-version-check uv
uv="$work/tools/bin/uv"
python="$(python3 -c 'import sys; print(sys.executable)')"
export UV_CACHE_DIR="$work/uv-cache" UV_PYTHON_DOWNLOADS=never UV_PYTHON="$python"
export PYCACHE_CACHE_DIR="$work/pycache-state"
unset PYCACHE_NO_CACHE PYTHONDONTWRITEBYTECODE

for n in 1 2; do
    project="$work/project-$n"
    mkdir -p "$project"
    cat > "$project/pyproject.toml" <<'TOML'
[project]
name = "recipe"
version = "0"
requires-python = ">=3.8"
dependencies = ["six", "idna"]

[tool.uv]
package = false
TOML
    (
        cd "$project"
        "$uv" sync --no-compile --quiet
        site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        if compgen -G "$site/idna/__pycache__/*.pyc" >/dev/null; then
            echo "uv sync --no-compile wrote pycs" >&2; exit 1
        fi
        # The README's line, with this machine's site-packages.
        VIRTUAL_ENV="$project/.venv" "$pycache" compile "$site" | tee "$work/run-$n.txt"
        .venv/bin/python -v -c 'import six, idna, idna.core' 2> "$work/import-$n.txt"
        for module in six core; do
            grep -q "$module\..*\.pyc matches" "$work/import-$n.txt" \
                || { echo "import did not use the pyc of $module" >&2; exit 1; }
        done
        if grep -q "^# wrote" "$work/import-$n.txt"; then echo "import wrote a pyc" >&2; exit 1; fi
    )
done
grep -Eq ': [1-9][0-9]* compiled, 0 from cache' "$work/run-1.txt"
grep -Eq ': 0 compiled, [1-9][0-9]* from cache, 0 fresh, 0 failed' "$work/run-2.txt"
echo "recipe checked: $(cat "$work/run-1.txt") / $(cat "$work/run-2.txt")"
