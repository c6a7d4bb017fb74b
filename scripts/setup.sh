#!/usr/bin/env bash
# Installs what pycache's tests need beyond the Rust toolchain: PyPy 3 from Debian's packages,
# so that every differential test also covers a second Python implementation, and Fedora's
# add-det (add-determinism, GPL: a test oracle for the canonical pyc form, never a dependency).
set -euo pipefail
if ! command -v pypy3 >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq pypy3 >/dev/null
fi
if ! command -v add-det >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/add-det" ]; then
    cargo install --locked add-determinism
fi
