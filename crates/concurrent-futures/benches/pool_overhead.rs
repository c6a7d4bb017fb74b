//! Per-task submit+result cost of the thread and process pools, and the primes example, beside
//! CPython's `concurrent.futures` doing the same work in the same run (`bench/futures_bench.py`,
//! run with Python 3.13 when pyenv has it, else `python3`; `PYCACHE_BENCH_PYTHON` overrides).
//! Prints the times and the ratios (Python / ours). `cargo bench -p concurrent-futures`.
#![allow(clippy::print_stdout)]

use concurrent_futures::{Executor, ProcessPoolExecutor, TaskFn, ThreadPoolExecutor, init};
use std::path::PathBuf;
use std::time::Instant;

fn identity(x: u64) -> u64 {
    x
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n == 2 {
        return true;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    let sqrt_n = (n as f64).sqrt().floor() as u64;
    (3..=sqrt_n).step_by(2).all(|i| !n.is_multiple_of(i))
}

static IDENTITY: TaskFn<u64, u64> = TaskFn::new("identity", identity);
static IS_PRIME: TaskFn<u64, bool> = TaskFn::new("is_prime", is_prime);
const PRIMES: [u64; 6] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
];

const THREAD_TASKS: usize = 100_000;
const PROCESS_TASKS: usize = 10_000;

fn thread_per_task() -> f64 {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let warm: Vec<_> = (0..1000u64)
        .map(|i| pool.submit(move || i).unwrap())
        .collect();
    warm.iter().for_each(|f| drop(f.result(None)));
    let start = Instant::now();
    let futures: Vec<_> = (0..THREAD_TASKS as u64)
        .map(|i| pool.submit(move || identity(i)).unwrap())
        .collect();
    for f in &futures {
        f.result(None).unwrap();
    }
    start.elapsed().as_secs_f64() / THREAD_TASKS as f64
}

fn process_per_task() -> f64 {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let warm: Vec<_> = (0..200u64)
        .map(|i| pool.submit(IDENTITY.call(i)).unwrap())
        .collect();
    warm.iter().for_each(|f| drop(f.result(None)));
    let start = Instant::now();
    let futures: Vec<_> = (0..PROCESS_TASKS as u64)
        .map(|i| pool.submit(IDENTITY.call(i)).unwrap())
        .collect();
    for f in &futures {
        f.result(None).unwrap();
    }
    start.elapsed().as_secs_f64() / PROCESS_TASKS as f64
}

fn primes_run() -> f64 {
    let start = Instant::now();
    let pool = ProcessPoolExecutor::builder().build().unwrap();
    let all: Vec<bool> = pool
        .map(PRIMES.iter().map(|&n| IS_PRIME.call(n)), None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(pool);
    assert_eq!(all, [true, true, true, true, true, false]);
    start.elapsed().as_secs_f64()
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PYCACHE_BENCH_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let versions = home.join(".pyenv/versions");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&versions)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/python3.13"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| "python3".into())
}

fn main() {
    init(&[&IDENTITY, &IS_PRIME]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/futures_bench.py");
    let python = python();
    let output = std::process::Command::new(&python)
        .arg(&script)
        .args([
            THREAD_TASKS.to_string(),
            PROCESS_TASKS.to_string(),
            "1".into(),
        ])
        .output()
        .expect("run the Python side");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ours = [thread_per_task(), process_per_task(), primes_run()];
    println!("concurrent-futures vs {} (same run)", python.display());
    println!(
        "{:<28} {:>12} {:>12} {:>8}",
        "measure", "python", "ours", "ratio"
    );
    for (name, our) in ["thread_per_task", "process_per_task", "primes_run"]
        .iter()
        .zip(ours)
    {
        let their = theirs[name].as_f64().unwrap();
        let unit = if name.ends_with("per_task") { 1e6 } else { 1e3 };
        let label = if unit == 1e6 { "µs" } else { "ms" };
        println!(
            "{:<28} {:>9.2} {label} {:>9.2} {label} {:>7.1}x",
            name,
            their * unit,
            our * unit,
            their / our
        );
    }
}
