"""Python's side of the concurrent-futures benchmark: the same work as
crates/concurrent-futures/benches/pool_overhead.rs, with CPython's concurrent.futures.
Prints one JSON object of seconds per task / seconds per run."""
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

PRIMES = [112272535095293, 112582705942171, 112272535095293, 115280095190773,
          115797848077099, 1099726899285419]


def identity(x):
    return x


def is_prime(n):
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    sqrt_n = int(math.floor(math.sqrt(n)))
    for i in range(3, sqrt_n + 1, 2):
        if n % i == 0:
            return False
    return True


def per_task(executor, n):
    start = time.perf_counter()
    futures = [executor.submit(identity, i) for i in range(n)]
    for f in futures:
        f.result()
    return (time.perf_counter() - start) / n


def main():
    threads_n, processes_n, primes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    out = {}
    with ThreadPoolExecutor(max_workers=2) as ex:
        per_task(ex, 1000)  # warm up: threads started
        out["thread_per_task"] = per_task(ex, threads_n)
    with ProcessPoolExecutor(max_workers=2) as ex:
        per_task(ex, 200)  # warm up: processes started
        out["process_per_task"] = per_task(ex, processes_n)
    if primes:
        start = time.perf_counter()
        with ProcessPoolExecutor() as ex:
            list(ex.map(is_prime, PRIMES))
        out["primes_run"] = time.perf_counter() - start
    print(json.dumps(out))


if __name__ == "__main__":
    main()
