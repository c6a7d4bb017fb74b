#!/usr/bin/env python3
"""Two pycache binaries against each other, alternately, in one run: the check that a change
(a restructure, say) costs nothing, beside the no-op floor.

    python3 bench/before_after.py --before OLD --after NEW [--rounds N]

Trees: a copy of the default interpreter's site-packages and of CPython 3.12's standard library
(.py files only, mtimes kept). In each round, for each binary (the order reversed every other
round, since absolute times drift here):
  - cold: `pycache compile --no-cache` of the tree with its pycs removed;
  - no-op: `pycache compile` of the same tree, everything fresh (best of 3);
  - check: `pycache check` of it (best of 3);
and bench/noop_floor.c (list, stat each source, read each pyc header, every core) once per round.
Printed: the best of the rounds for each, the after/before ratio and each no-op against the floor.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compile_bench import build_floor, clean, copy_py  # noqa: E402


def timed(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        sys.exit(f"{cmd} failed ({out.returncode}): {out.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def best(times, cmd):
    return min(timed(cmd) for _ in range(times))


def measure(binary, python, tree):
    clean(tree)
    env_free = ["--no-cache"]
    cold = timed([binary, "compile", "-q", *env_free, "--python", python, tree])
    noop = best(3, [binary, "compile", "-q", *env_free, "--python", python, tree])
    check = best(3, [binary, "check", "--python", python, tree])
    return {"cold": cold, "no-op": noop, "check": check}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    default = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], stdout=subprocess.PIPE, text=True).stdout.strip()
    py312 = None
    for root in sorted(os.listdir(os.path.expanduser("~/.pyenv/versions"))):
        if root.startswith("3.12"):
            py312 = os.path.expanduser(f"~/.pyenv/versions/{root}/bin/python3.12")
    with tempfile.TemporaryDirectory() as work:
        floor_exe = build_floor(work)
        trees = []
        site = subprocess.run([default, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], stdout=subprocess.PIPE, text=True).stdout.strip()
        trees.append(("site-packages", default, os.path.join(work, "site"), site, set()))
        if py312:
            stdlib = subprocess.run([py312, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], stdout=subprocess.PIPE, text=True).stdout.strip()
            trees.append(("3.12 stdlib", py312, os.path.join(work, "stdlib"), stdlib, {os.path.join(stdlib, "site-packages")}))
        for name, python, tree, src, skip in trees:
            files = copy_py(src, tree, skip)
            tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], stdout=subprocess.PIPE, text=True).stdout.strip()
            results = {"before": [], "after": []}
            floors = []
            for r in range(args.rounds):
                order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
                for which in order:
                    results[which].append(measure(getattr(args, which), python, tree))
                if floor_exe:
                    floors.append(best(3, [floor_exe, tree, tag, str(cores)]))
            print(f"{name}: {files} files, best of {args.rounds} rounds")
            floor = min(floors) if floors else None
            for measure_name in ("cold", "no-op", "check"):
                b = min(x[measure_name] for x in results["before"])
                a = min(x[measure_name] for x in results["after"])
                line = f"  {measure_name:6} before {b:7.3f} s   after {a:7.3f} s   after/before {a / b:5.2f}"
                if floor and measure_name != "cold":
                    line += f"   vs floor {floor:6.3f} s: before {b / floor:4.2f}x, after {a / floor:4.2f}x"
                print(line)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
