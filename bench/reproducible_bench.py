#!/usr/bin/env python3
"""Canonical pycs: pycache against Fedora's add-det and against the floors, in the same run.

    python3 bench/reproducible_bench.py [--pycache PATH] [--python PATH] [--tree DIR]
                                         [--add-det PATH] [--rounds N] [--tiny] [--cold-only]

The tree is a copy of the interpreter's site-packages (.py files, mtimes kept; --tree to pick
another, --tiny for its json package only, to check that the script runs). Its pycs are written
by `python -m compileall` (one process per core: none canonical), kept aside, and put back before
each measurement. Measured alternately, best of --rounds:
  - read floor: reading every pyc (Python, one thread per core);
  - read + write floor: reading every pyc and writing it again (temporary file and rename);
  - `pycache check --reproducible` (goal: within 2x of the read floor);
  - `pycache compile --reproducible` on the fresh, non-canonical pycs: canonicalizes in place
    without Python (goal: within 1.5x of the read + write floor);
  - `add-det -jCORES --handler=pyc` doing the same (the issue saw about 10 to 20x slower);
  - cold `pycache compile` against cold `pycache compile --reproducible` (goal: at most 3%),
    also as the median of each round's paired ratio (--cold-only: only this pair).
Each command's CPU seconds (user + system, its Python workers included) are reported beside its
wall time: on a machine shared with other work, CPU time is the steadier of the two. The CPU
that canonicalizing alone costs is measured by `crates/pycache/examples/marshal_cpu.rs`.
"""
import argparse
import concurrent.futures
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def copy_sources(src, dst):
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel = os.path.relpath(dirpath, src)
        for name in filenames:
            if name.endswith(".py"):
                os.makedirs(os.path.join(dst, rel), exist_ok=True)
                shutil.copy2(os.path.join(dirpath, name), os.path.join(dst, rel, name))


def pycs(tree):
    out = []
    for dirpath, _, filenames in os.walk(tree):
        out.extend(os.path.join(dirpath, n) for n in filenames if n.endswith(".pyc"))
    return out


def restore(saved, tree):
    """Puts the compileall pycs back (same bytes, same names)."""
    for rel in saved:
        with open(os.path.join(tree, rel), "wb") as f:
            f.write(saved[rel])


def remove_pycs(tree):
    for path in pycs(tree):
        os.unlink(path)


def on_cores(function, paths, cores):
    with concurrent.futures.ThreadPoolExecutor(cores) as pool:
        list(pool.map(function, paths, chunksize=64))


def read_one(path):
    with open(path, "rb") as f:
        f.read()


def rewrite_one(path):
    with open(path, "rb") as f:
        data = f.read()
    temporary = "%s.%d" % (path, id(data))
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command):
    """Wall seconds, exit status, and CPU seconds of `command` and the children it waited for."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start, done.returncode, children_cpu() - cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pycache", default=os.path.join(ROOT, "target", "release", "pycache"))
    parser.add_argument("--python", default=shutil.which("python3"))
    parser.add_argument("--tree")
    parser.add_argument("--add-det", default=shutil.which("add-det")
                        or os.path.expanduser("~/.cargo/bin/add-det"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--cold-only", action="store_true",
                        help="only the two cold compiles (more rounds of the noisiest comparison)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    where = subprocess.run(
        [args.python, "-c", "import sysconfig, json, os; print(sysconfig.get_paths()['purelib']);"
         " print(os.path.dirname(json.__file__))"], stdout=subprocess.PIPE, check=True,
        universal_newlines=True).stdout.split("\n")
    source = args.tree or (where[1] if args.tiny else where[0])
    work = tempfile.mkdtemp(prefix="reproducible-bench-")
    try:
        tree = os.path.join(work, "tree")
        copy_sources(source, tree)
        subprocess.run([args.python, "-m", "compileall", "-q", "-j0", tree],
                       stdout=subprocess.DEVNULL, check=False)
        saved = {}
        for path in pycs(tree):
            with open(path, "rb") as f:
                saved[os.path.relpath(path, tree)] = f.read()
        print("%s: %d pycs written by compileall, %.1f MiB" % (
            source, len(saved), sum(map(len, saved.values())) / 2**20))
        results = {}
        cpu = {}

        def record(name, seconds, cpu_seconds=None):
            results[name] = min(results.get(name, seconds), seconds)
            if cpu_seconds is not None:
                cpu[name] = min(cpu.get(name, cpu_seconds), cpu_seconds)

        pycache = [args.pycache]
        python = ["--python", args.python]
        pairs = []  # per round: {reproducible: (wall, cpu)}, run back to back
        for r in range(args.rounds):
            if not args.cold_only:
                restore(saved, tree)
                paths = pycs(tree)
                start = time.perf_counter()
                on_cores(read_one, paths, cores)
                record("read floor", time.perf_counter() - start)
                start = time.perf_counter()
                on_cores(rewrite_one, paths, cores)
                record("read + write floor", time.perf_counter() - start)
                restore(saved, tree)
                seconds, status, used = timed(
                    pycache + ["check", "--reproducible"] + python + [tree])
                assert status == 1, "check --reproducible should fail on compileall's pycs"
                record("pycache check --reproducible", seconds, used)
                seconds, status, used = timed(
                    pycache + ["compile", "-q", "--reproducible"] + python + [tree])
                assert status == 0
                record("pycache compile --reproducible (in place)", seconds, used)
                if args.add_det and os.path.exists(args.add_det):
                    restore(saved, tree)
                    seconds, _, used = timed(
                        [args.add_det, "-j%d" % cores, "--handler=pyc", tree])
                    record("add-det --handler=pyc", seconds, used)
            # Cold: the cache of compiled code is off, or these would be cache hits.
            order = (False, True) if r % 2 == 0 else (True, False)
            pairs.append({})
            for reproducible in order:
                remove_pycs(tree)
                flag = ["--reproducible"] if reproducible else []
                seconds, _, used = timed(
                    pycache + ["compile", "-q", "--no-cache"] + flag + python + [tree])
                record("cold compile" + (" --reproducible" if reproducible else ""), seconds, used)
                pairs[-1][reproducible] = (seconds, used)
        for name, seconds in results.items():
            used = ("%8.3f s CPU" % cpu[name]) if name in cpu else ""
            print("  %-45s %8.3f s %s" % (name, seconds, used))
        if not args.cold_only:
            floor_rw = results["read + write floor"]
            print("  canonicalize in place at %.2fx of read + write" % (
                results["pycache compile --reproducible (in place)"] / floor_rw))
            print("  check --reproducible at %.2fx of read" % (
                results["pycache check --reproducible"] / results["read floor"]))
            if "add-det --handler=pyc" in results:
                print("  add-det %.1fx slower than pycache in place" % (
                    results["add-det --handler=pyc"]
                    / results["pycache compile --reproducible (in place)"]))
        print("  cold compile --reproducible at %+.1f%% (wall), %+.1f%% (CPU)" % (
            100 * (results["cold compile --reproducible"] / results["cold compile"] - 1),
            100 * (cpu["cold compile --reproducible"] / cpu["cold compile"] - 1)))
        # The two cold compiles of a round ran back to back: their ratio, round by round, is
        # steadier than the ratio of two bests that may come from different rounds.
        walls = [p[True][0] / p[False][0] for p in pairs]
        cpus = [p[True][1] / p[False][1] for p in pairs]
        print("  the same, median of %d rounds' paired ratios: %+.1f%% (wall), %+.1f%% (CPU)" % (
            len(pairs), 100 * (median(walls) - 1), 100 * (median(cpus) - 1)))
        print("    round by round (wall): " + ", ".join("%+.1f%%" % (100 * (w - 1)) for w in walls))
        print("    round by round (CPU):  " + ", ".join("%+.1f%%" % (100 * (c - 1)) for c in cpus))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
