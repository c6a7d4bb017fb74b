#!/usr/bin/env bash
# Installs what pycache's tests need beyond the Rust toolchain and a Python 3:
# - PyPy 3, from Debian's packages, so that every differential test also covers a second
#   Python implementation;
# - redis-server and nginx with its WebDAV modules (nginx-extras), from Debian's packages: the
#   remote-cache tests start them on 127.0.0.1.
# - s3s-fs, an S3-compatible server from crates.io (the S3 remote-cache tests start it);
# - Fedora's add-det (add-determinism, GPL: a test oracle for the canonical pyc form, never a
#   dependency), from crates.io.
# The main job (`cargo run --release -- compile .`) needs none of this.
set -euo pipefail
missing=()
command -v pypy3 >/dev/null 2>&1 || missing+=(pypy3)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] || missing+=(nginx-extras)
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v add-det >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/add-det" ]; then
    cargo install --locked add-determinism
fi
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
    # 0.14 is the last release that builds with Rust 1.95.
    cargo install --locked s3s-fs@0.14.1 --features binary
fi
