#!/usr/bin/env bash
# Installs what pycache's tests need beyond the Rust toolchain: PyPy 3 from Debian's packages,
# so that every differential test also covers a second Python implementation.
set -euo pipefail
if ! command -v pypy3 >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq pypy3 >/dev/null
fi
