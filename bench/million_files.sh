#!/bin/sh
# A synthetic tree of a million one-line sources (issue 15: it must compile in under 1 GB,
# and time must stay linear): `compile` then a no-op run, on a tenth of the tree and on all of
# it, printing each run's peak RSS (pycache alone, not its workers) and wall time; beside each
# no-op, bench/noop_floor.c on the same tree (what the kernel alone costs to list, stat and
# read the headers), since a large tree also scales the kernel's caches. Time is linear when
# the ratio of the two sizes' times is about 10 (or the floor's own). The cache of compiled
# code is off, so that each run compiles (and the user's cache is not filled with a million
# entries).
#
#   bench/million_files.sh [FILES]      (default 1000000; needs some 9 GB of disk on ext4)
set -eu
files=${1:-1000000}
pycache=${PYCACHE:-target/release/pycache}
work=$(mktemp -d "${TMPDIR:-/tmp}/million.XXXXXX")
trap 'rm -rf "$work"' EXIT
make_tree() {
    python3 "$(dirname "$0")/synthetic_tree.py" "$1" "$2"
}
run() {
    start=$(date +%s.%N)
    PYCACHE_NO_CACHE=1 "$pycache" compile --json "$1" > "$work/out.json"
    end=$(date +%s.%N)
    python3 - "$work/out.json" "$start" "$end" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
counts = doc["interpreters"][0]
seconds = float(sys.argv[3]) - float(sys.argv[2])
print("%-24s %8d compiled %8d fresh %8d failed  peak %7.1f MiB  %7.2f s"
      % (sys.argv[4], counts["compiled"], counts["fresh"], counts["failed"],
         doc["peak_rss_kib"] / 1024, seconds))
PY
}
floor="$work/noop_floor"
cc -O2 -pthread -o "$floor" "$(dirname "$0")/noop_floor.c"
tag=$(python3 -c 'import sys; print(sys.implementation.cache_tag)')
run_floor() {
    start=$(date +%s.%N)
    "$floor" "$1" "$tag" "$(nproc)" > /dev/null
    end=$(date +%s.%N)
    python3 -c 'import sys; print("%-24s %81.2f s" % (sys.argv[3], float(sys.argv[2]) - float(sys.argv[1])))' "$start" "$end" "$2"
}
tenth=$((files / 10))
make_tree "$work/tenth" "$tenth"
make_tree "$work/all" "$files"
run "$work/tenth" "compile $tenth"
run "$work/tenth" "no-op $tenth"
run_floor "$work/tenth" "no-op floor $tenth"
run "$work/all" "compile $files"
run "$work/all" "no-op $files"
run_floor "$work/all" "no-op floor $files"
