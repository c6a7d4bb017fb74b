#!/usr/bin/env python3
"""The cache of compiled code, measured against a write floor and against compiling, in one run.

    python3 bench/cache_bench.py [--pycache PATH] [--rounds N] [--serc PATH] [--work DIR]
                                 [--limit N] [--only NAME ...]

Tree: a copy of the default interpreter's site-packages (.py files, mtimes kept). The cache is
warmed by compiling another copy at another path. Then, in each round (the order reversed every
other round, since absolute times drift here), each measure writes into a fresh copy of the tree
(new directories, no pycs; the copy is made and synced before the clock starts). No tree is
deleted before the end: the trees of a run take about 270 MB each, 5 GB for `--only floor
--only warm --rounds 4`, on the file system measured. Right after a large delete, ext4 without
a journal (this machine's disk) slows every writer up to ten times: each new inode is found by
skipping the free ones deleted in the last 60 s (360 s while their inode table block is dirty)
one at a time (`recently_deleted` in the kernel's fs/ext4/ialloc.c, which `perf` shows then).
Start a run on such a disk at least 6 minutes after any large delete, the last run's included.
  - floor: bench/write_floor.c writes the same pyc bytes to the same paths, temporary file and
    rename, on every core (nothing else: no reading, no hashing, no deciding);
  - unnamed write floor (`write_floor.c unnamed`): the same bytes written the way pycache writes
    a pyc that is not there yet, an unnamed file (O_TMPFILE) linked under its name when whole:
    the cheapest atomic write known here, and a stricter floor than the issue's;
  - hit floor: crates/pycache/examples/hit_floor.rs does what any content-addressed cache must
    per hit: read each source and take its BLAKE3 digest, then write the pyc as the floor does
    (no lookup, no re-pointing: the pyc bytes are given);
  - complete hit floor (`hit_floor complete`): the same, plus what the issue requires of every
    hit besides: list each directory once (the walk), read the entry from a pack with one
    pread, verify its checksum, and write the pyc from that buffer (pycache re-points the
    payload by writing its pieces around the new name, no copy), as pycache writes a new pyc
    (the unnamed write floor's way), so that it bounds what pycache itself can reach;
  - warm local: pycache compile with the warm local cache (everything a hit);
  - warm redis: pycache compile with an empty local cache and a local redis-server holding
    everything (everything a remote hit);
  - cold --no-cache, cold with an empty cache (nothing to look up: every result stored), and
    cold with a cache holding only other code (the standard library: every lookup a miss);
  - compileall -j0, and serc (if it installs) cold.
Printed: the best of the rounds for each, and the ratios the cache issue asks for. --work puts
the trees elsewhere (a tmpfs, say) to compare kinds of file system.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def copy_py(src, dst, skip=("__pycache__",)):
    count = 0
    for d, dirs, files in os.walk(src):
        dirs[:] = [x for x in dirs if x not in skip]
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), src)
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                shutil.copy2(os.path.join(d, f), os.path.join(dst, rel))
                count += 1
    return count


def pycs(tree):
    for d, _, files in os.walk(tree):
        for f in files:
            if f.endswith(".pyc"):
                yield os.path.relpath(os.path.join(d, f), tree)


def timed(cmd, **kw):
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({out.returncode}): {out.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pycache", default=os.path.join(ROOT, "target", "release", "pycache"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serc", default=shutil.which("serc"))
    parser.add_argument("--work", default=None, help="where the trees are written (default: a temporary directory)")
    parser.add_argument("--limit", type=int, default=0, help="only this many files (a quick check)")
    parser.add_argument("--only", action="append", default=[], help="only the measures whose name contains this (repeatable); ratios need their measures")
    args = parser.parse_args()
    if not os.path.exists(args.pycache):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "pycache-cli"], cwd=ROOT, check=True)
    cores = os.cpu_count() or 1
    python = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], stdout=subprocess.PIPE, text=True).stdout.strip()
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], stdout=subprocess.PIPE, text=True).stdout.strip()
    env = dict(os.environ)
    env.pop("PYCACHE_NO_CACHE", None)
    env.pop("PYCACHE_REMOTE", None)
    env.pop("SOURCE_DATE_EPOCH", None)
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        floor = os.path.join(work, "write_floor")
        subprocess.run(["gcc", "-O2", "-pthread", "-o", floor, os.path.join(HERE, "write_floor.c")], check=True)
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "pycache", "--example", "hit_floor"], cwd=ROOT, check=True)
        hit_floor = os.path.join(ROOT, "target", "release", "examples", "hit_floor")
        tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], stdout=subprocess.PIPE, text=True).stdout.strip()
        source = os.path.join(work, "source")
        files = copy_py(site, source)
        if args.limit:
            kept = 0
            for d, _, names in sorted(os.walk(source)):
                for name in sorted(names):
                    kept += 1
                    if kept > args.limit:
                        os.unlink(os.path.join(d, name))
            files = min(files, args.limit)
        state = os.path.join(work, "state")
        env["PYCACHE_CACHE_DIR"] = state
        warm = os.path.join(work, "cache-warm")

        # Numbers for the directories made during the run (trees, empty caches), never reused.
        serial = iter(range(10**6))

        def fresh(name):
            # A new directory every time, none deleted before the end: right after a large
            # delete, ext4 slows every writer for a while (see the module doc).
            tree = os.path.join(work, "trees", f"{name}-{next(serial)}")
            shutil.copytree(source, tree, copy_function=shutil.copy2)
            os.sync()
            time.sleep(0.5)
            return tree

        def pycache(tree, *extra):
            return timed([args.pycache, "compile", "-q", "--python", python, *extra, tree], env=env)[0]

        # Warm the local cache at another path, and make the floor's bytes.
        elsewhere = fresh("elsewhere-at-another-path")
        pycache(elsewhere, "--cache-dir", warm)
        reference = fresh("reference")
        pycache(reference, "--cache-dir", warm)
        manifest_rows = [(rel, os.path.join(reference, rel)) for rel in pycs(reference)]
        # A cache holding other code only (the standard library): every lookup misses, but
        # the cache is not empty, so every lookup is made.
        stdlib = subprocess.run([python, "-c", "import os, json; print(os.path.dirname(os.path.dirname(json.__file__)))"], stdout=subprocess.PIPE, text=True).stdout.strip()
        other_source = os.path.join(work, "other-code")
        copy_py(stdlib, other_source, skip=("__pycache__", "site-packages", "test"))
        other_cache = os.path.join(work, "cache-other")
        pycache(other_source, "--cache-dir", other_cache)

        def cold_with_other_code():
            cache_dir = os.path.join(work, f"cache-other-{next(serial)}")
            shutil.copytree(other_cache, cache_dir)
            return pycache(fresh("cold-other"), "--cache-dir", cache_dir)

        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no", "--dir", work],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{redis_port}/0"
        try:
            time.sleep(0.5)
            filler = fresh("redis-filler")
            pycache(filler, "--cache-dir", os.path.join(work, "cache-filler"), "--remote", url)

            serc = args.serc
            if serc is None:
                venv = os.path.join(work, "serc-venv")
                subprocess.run([sys.executable, "-m", "venv", venv], check=True)
                if subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "serc"]).returncode == 0:
                    serc = os.path.join(venv, "bin", "serc")
            version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], stdout=subprocess.PIPE, text=True).stdout.strip()

            def measure_floor(*mode):
                tree = fresh("floor")
                manifest = os.path.join(work, "manifest")
                with open(manifest, "w") as f:
                    for rel, content in manifest_rows:
                        f.write(f"{os.path.join(tree, rel)}\t{content}\n")
                out = subprocess.run([floor, manifest, str(cores), *mode], stdout=subprocess.PIPE, text=True, check=True)
                return float(out.stdout)

            def measure_hit_floor(*mode):
                tree = fresh("hit-floor")
                manifest = os.path.join(work, "manifest-hit")
                with open(manifest, "w") as f:
                    for rel, content in manifest_rows:
                        pycache_dir, name = os.path.split(rel)
                        source = os.path.join(os.path.dirname(pycache_dir), name[:-len(f".{tag}.pyc")] + ".py")
                        f.write(f"{os.path.join(tree, rel)}\t{content}\t{os.path.join(tree, source)}\n")
                out = subprocess.run([hit_floor, manifest, str(cores), *mode], stdout=subprocess.PIPE, text=True, check=True)
                return float(out.stdout)

            measures = {
                "floor (write_floor.c)": measure_floor,
                "unnamed write floor (write_floor.c unnamed)": lambda: measure_floor("unnamed"),
                "hit floor (hit_floor.rs)": measure_hit_floor,
                "complete hit floor (hit_floor.rs complete)": lambda: measure_hit_floor("complete"),
                "pycache, warm local cache": lambda: pycache(fresh("warm"), "--cache-dir", warm),
                "pycache, warm redis, empty local": lambda: pycache(fresh("redis"), "--cache-dir", os.path.join(work, f"cache-empty-{next(serial)}"), "--remote", url),
                "pycache --no-cache (cold)": lambda: pycache(fresh("nocache"), "--no-cache"),
                "pycache, empty cache (cold)": lambda: pycache(fresh("cold"), "--cache-dir", os.path.join(work, f"cache-empty-{next(serial)}")),
                "pycache, cache of other code (cold)": cold_with_other_code,
                "compileall -j0 (cold)": lambda: timed([python, "-m", "compileall", "-q", "-j0", fresh("compileall")])[0],
            }
            if serc:
                # serc compiles without the interpreter, for 3.12 and later only: it writes 3.12
                # pycs of the same tree when the interpreter is older.
                supported = subprocess.run([serc, "compile", "--python-version", version, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE).returncode == 0
                serc_version = version if supported else "3.12"
                measures[f"serc --python-version {serc_version} (cold)"] = lambda: timed([serc, "compile", "--python-version", serc_version, fresh("serc")])[0]
            if args.only:
                measures = {name: m for name, m in measures.items() if any(o in name for o in args.only)}
            results = {name: [] for name in measures}
            for r in range(args.rounds):
                order = list(measures) if r % 2 == 0 else list(reversed(measures))
                for name in order:
                    results[name].append(measures[name]())
                    print(f"  round {r + 1}: {name}: {results[name][-1]:.3f} s", file=sys.stderr, flush=True)
        finally:
            redis.kill()
            redis.wait()

        best = {name: min(times) for name, times in results.items()}
        print(f"{files} files of {site}, {len(manifest_rows)} pycs, written into fresh directories under {work} "
              f"({subprocess.run(['stat', '-f', '-c', '%T', work], stdout=subprocess.PIPE, text=True).stdout.strip()}); best of {args.rounds} rounds")
        for name, value in best.items():
            print(f"  {name:36s} {value:7.3f} s   (all: {', '.join(f'{t:.3f}' for t in results[name])})")
        def ratio(text, a, b, goal=""):
            if a in best and b in best:
                # Also each round's ratio (the two measures of a round ran close together) and
                # their median: the best of each can come from different rounds.
                paired = [x / y for x, y in zip(results[a], results[b])]
                print(f"  {text} {best[a] / best[b]:.2f}x{goal}; median of the rounds' ratios "
                      f"{statistics.median(paired):.2f}x ({', '.join(f'{p:.2f}' for p in paired)})")

        ratio("warm local against the write floor:", "pycache, warm local cache", "floor (write_floor.c)", " (goal <= 1.5x)")
        ratio("the hit floor against the write floor:", "hit floor (hit_floor.rs)", "floor (write_floor.c)")
        ratio("warm local against the unnamed write floor:", "pycache, warm local cache", "unnamed write floor (write_floor.c unnamed)")
        ratio("warm local against the hit floor:", "pycache, warm local cache", "hit floor (hit_floor.rs)")
        ratio("the complete hit floor against the write floor:", "complete hit floor (hit_floor.rs complete)", "floor (write_floor.c)")
        ratio("warm local against the complete hit floor:", "pycache, warm local cache", "complete hit floor (hit_floor.rs complete)")
        ratio("compileall -j0 against warm local:", "compileall -j0 (cold)", "pycache, warm local cache")
        for name in best:
            if name.startswith("serc"):
                ratio(f"{name} against warm local:", name, "pycache, warm local cache", " (goal >= 5x)")
        ratio("warm redis against the write floor:", "pycache, warm redis, empty local", "floor (write_floor.c)", " (goal <= 3x)")
        ratio("warm redis against the unnamed write floor:", "pycache, warm redis, empty local", "unnamed write floor (write_floor.c unnamed)")
        ratio("warm redis against the hit floor:", "pycache, warm redis, empty local", "hit floor (hit_floor.rs)")
        ratio("warm redis against the complete hit floor:", "pycache, warm redis, empty local", "complete hit floor (hit_floor.rs complete)")
        ratio("cold with the cache against --no-cache:", "pycache, empty cache (cold)", "pycache --no-cache (cold)", " (goal <= 1.05x)")
        ratio("cold with a cache of other code against --no-cache:", "pycache, cache of other code (cold)", "pycache --no-cache (cold)")

if __name__ == "__main__":
    main()
