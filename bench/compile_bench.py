#!/usr/bin/env python3
"""pycache compile against python -m compileall, measured in the same run (ratios printed).

    python3 bench/compile_bench.py [--pycache PATH] [--serc PATH] [--skip-six]

Trees: a copy of the default interpreter's site-packages (python3) and of CPython 3.12's
standard library (.py files only, mtimes kept). For each tree:
  - cold compile: compileall -j0 vs pycache (default: all cores); ratio (goal >= 2x);
  - the floor: the interpreter's own compile() + marshal.dumps CPU time for all files divided
    by the cores (the definition in issue 4), and, because two busy cores here are slower than
    one idle core, the same loop actually split over the cores (wall time);
  - no-op (everything fresh): compileall's fastest, sequential, vs pycache; ratio (goal >= 10x);
  - the no-op floor: bench/noop_floor.c (built with gcc), which makes only the system calls
    any tool needs to decide freshness (list, stat each source, read each pyc header), on
    every core; compileall and pycache are read against it;
  - peak RSS of the pycache process (from its --json).
Then all six CPython 3.8-3.13 in one pycache run on the 3.12 stdlib tree against the sum of their
floors, and serc (pip install serc) on the 3.12 tree: its time and how many of its pycs differ
from what 3.12 itself writes.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FLOOR = r"""
import marshal, os, sys, time
root, part, parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
paths = []
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x != '__pycache__')
    paths.extend(os.path.join(d, f) for f in sorted(files) if f.endswith('.py'))
datas = []
for p in paths[part::parts]:
    with open(p, 'rb') as f:
        datas.append((p, f.read()))
t0 = time.process_time(); w0 = time.perf_counter()
for p, data in datas:
    try:
        marshal.dumps(compile(data, p, 'exec', dont_inherit=True))
    except Exception:
        pass
print(time.process_time() - t0, time.perf_counter() - w0)
"""


def run(cmd, **kw):
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    return time.perf_counter() - start, out


def clean(tree):
    for d, dirs, files in os.walk(tree):
        if os.path.basename(d) == "__pycache__":
            for f in files:
                os.unlink(os.path.join(d, f))


def copy_py(src, dst, skip=()):
    count = 0
    for d, dirs, files in os.walk(src):
        dirs[:] = [x for x in dirs if x != "__pycache__" and os.path.join(d, x) not in skip]
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), src)
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                shutil.copy2(os.path.join(d, f), os.path.join(dst, rel))
                count += 1
    return count


def floors(python, tree, cores):
    _, out = run([python, "-c", FLOOR, tree, "0", "1"])
    sequential_cpu = float(out.stdout.split()[0])
    procs = [subprocess.Popen([python, "-c", FLOOR, tree, str(i), str(cores)], stdout=subprocess.PIPE) for i in range(cores)]
    walls = [float(p.communicate()[0].split()[1]) for p in procs]
    return sequential_cpu / cores, max(walls)


def best(times, cmd, **kw):
    return min(run(cmd, **kw)[0] for _ in range(times))


def pycache_json(pycache, args):
    elapsed, out = run([pycache, "compile", "--json"] + args)
    return elapsed, json.loads(out.stdout)


def build_floor(work):
    """Builds bench/noop_floor.c; None when no C compiler is there."""
    exe = os.path.join(work, "noop_floor")
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    built = subprocess.run([cc, "-O2", "-pthread", "-o", exe, os.path.join(HERE, "noop_floor.c")])
    return exe if built.returncode == 0 else None


def bench_tree(name, python, tree, pycache, cores, rows, floor_exe=None):
    clean(tree)
    t_ca, _ = run([python, "-m", "compileall", "-q", "-j0", tree])
    clean(tree)
    t_ours, report = pycache_json(pycache, ["-q", "--python", python, tree])
    floor_def, floor_par = floors(python, tree, cores)
    noop_ca = best(3, [python, "-m", "compileall", "-q", tree])
    noop_ours = best(5, [pycache, "compile", "-q", "--python", python, tree])
    check_ours = best(5, [pycache, "check", "--python", python, tree])
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], stdout=subprocess.PIPE, text=True).stdout.strip()
    noop_floor = best(5, [floor_exe, tree, tag, str(cores)]) if floor_exe else None
    files = report["interpreters"][0]["compiled"] + report["interpreters"][0]["failed"]
    rows.append((name, files, t_ca, t_ours, floor_def, floor_par, noop_ca, noop_ours, report["peak_rss_kib"]))
    print(f"{name}: {files} files")
    print(f"  cold   compileall -j0 {t_ca:7.2f} s   pycache {t_ours:7.2f} s   {t_ca / t_ours:5.2f}x  (goal >= 2x)")
    print(f"  floor  (CPU / {cores} cores) {floor_def:6.2f} s -> pycache at {t_ours / floor_def:4.2f}x of it (goal <= 1.10x)")
    print(f"         (split over {cores} cores, wall) {floor_par:6.2f} s -> pycache at {t_ours / floor_par:4.2f}x of it")
    print(f"  no-op  compileall      {noop_ca:7.3f} s   pycache {noop_ours:7.3f} s   {noop_ca / noop_ours:5.1f}x  (goal >= 10x)")
    print(f"  check  compileall no-op {noop_ca:6.3f} s   pycache check {check_ours:6.3f} s   {noop_ca / check_ours:5.1f}x  (goal >= 10x)")
    if noop_floor:
        print(f"  no-op floor (noop_floor.c, {cores} threads) {noop_floor:6.3f} s = {noop_ca / noop_floor:5.1f}x faster than compileall's no-op;"
              f" pycache compile at {noop_ours / noop_floor:4.2f}x of it, check at {check_ours / noop_floor:4.2f}x")
    print(f"  peak RSS of pycache: {report['peak_rss_kib'] / 1024:.1f} MB (goal < 100 MB)")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pycache", default=os.path.join(ROOT, "target", "release", "pycache"))
    parser.add_argument("--serc", default=shutil.which("serc"))
    parser.add_argument("--skip-six", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.pycache):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "pycache-cli"], cwd=ROOT, check=True)
    cores = os.cpu_count() or 1
    found = json.loads(subprocess.run([args.pycache, "interpreters", "--json"], stdout=subprocess.PIPE, check=True).stdout)["interpreters"]
    cpython = {tuple(map(int, i["version"].split(".")[:2])): i["path"] for i in reversed(found)
               if i["implementation"] == "cpython" and i["cache_tag"]}
    default = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], stdout=subprocess.PIPE, text=True).stdout.strip()
    py312 = cpython[(3, 12)]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        floor_exe = build_floor(work)
        site = subprocess.run([default, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], stdout=subprocess.PIPE, text=True).stdout.strip()
        tree = os.path.join(work, "site-packages")
        copy_py(site, tree)
        bench_tree(f"site-packages of {default}", default, tree, args.pycache, cores, rows, floor_exe)
        shutil.rmtree(tree)

        stdlib = subprocess.run([py312, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], stdout=subprocess.PIPE, text=True).stdout.strip()
        tree = os.path.join(work, "stdlib312")
        copy_py(stdlib, tree, skip={os.path.join(stdlib, "site-packages")})
        bench_tree("CPython 3.12 stdlib", py312, tree, args.pycache, cores, rows, floor_exe)

        if not args.skip_six:
            six = [cpython[(3, m)] for m in range(8, 14) if (3, m) in cpython]
            clean(tree)
            cmd = ["-q"]
            for p in six:
                cmd += ["--python", p]
            t_all, report = pycache_json(args.pycache, cmd + [tree])
            floor_sum = sum(floors(p, tree, cores)[0] for p in six)
            floor_sum_par = sum(floors(p, tree, cores)[1] for p in six)
            print(f"{len(six)} interpreters (3.8-3.13) in one run on the 3.12 stdlib: pycache {t_all:.2f} s;"
                  f" sum of floors {floor_sum:.2f} s (CPU/cores) -> {t_all / floor_sum:.2f}x, {floor_sum_par:.2f} s (split, wall) -> {t_all / floor_sum_par:.2f}x (goal <= 1.10x);"
                  f" peak RSS {report['peak_rss_kib'] / 1024:.1f} MB")

        serc = args.serc
        if serc is None:
            venv = os.path.join(work, "serc-venv")
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            if subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "serc"]).returncode == 0:
                serc = os.path.join(venv, "bin", "serc")
        if serc:
            clean(tree)
            run([py312, "-m", "compileall", "-q", "-j0", tree])
            theirs = {}
            for d, _, files in os.walk(tree):
                for f in files:
                    if f.endswith(".pyc"):
                        with open(os.path.join(d, f), "rb") as fh:
                            theirs[os.path.join(d, f)] = fh.read()
            clean(tree)
            t_serc, _ = run([serc, "compile", "--python-version", "3.12", tree])
            differ = written = 0
            for path, data in theirs.items():
                if os.path.exists(path):
                    written += 1
                    with open(path, "rb") as fh:
                        differ += fh.read() != data
            serc_noop = best(3, [serc, "compile", "--python-version", "3.12", tree])
            floor_312 = best(5, [floor_exe, tree, "cpython-312", str(cores)]) if floor_exe else None
            clean(tree)
            t_ours, _ = pycache_json(args.pycache, ["-q", "--python", py312, tree])
            check_ours = best(5, [args.pycache, "check", "--python", py312, tree])
            print(f"serc on the 3.12 stdlib: {t_serc:.2f} s (pycache {t_ours:.2f} s); {differ} of {written} serc pycs differ from what 3.12 writes ({len(theirs)} written by 3.12)")
            print(f"  no-op: serc {serc_noop:.3f} s, pycache check {check_ours:.3f} s -> {serc_noop / check_ours:.1f}x (goal >= 3x)")
            if floor_312:
                print(f"  no-op floor on this tree {floor_312:.3f} s -> serc at {serc_noop / floor_312:.1f}x of it")
        else:
            print("serc: not available (pip install serc failed)")


if __name__ == "__main__":
    main()
