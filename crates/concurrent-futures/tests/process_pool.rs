//! Process-pool tests, ported from CPython 3.13's test_process_pool.py, test_shutdown.py,
//! test_init.py and test_deadlock.py and rewritten in Rust. Worker processes re-execute this
//! binary, so it has its own `main` (`harness = false`) that calls `init` first.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use concurrent_futures::{
    Executor, ProcessPoolExecutor, ResultError, SubmitError, TaskError, TaskFn, as_completed, init,
};
use rustix::process::{Pid, Signal, getpid, kill_process, test_kill_process};
use std::time::{Duration, Instant};

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut i = 2;
    while i * i <= n {
        if n.is_multiple_of(i) {
            return false;
        }
        i += 1;
    }
    true
}
fn pid(_: ()) -> u32 {
    std::process::id()
}
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}
fn kill_self(_: ()) -> u32 {
    let _ = kill_process(getpid(), Signal::KILL);
    0
}
fn abort_self(_: ()) -> u32 {
    std::process::abort()
}
fn panics(message: String) -> u32 {
    panic!("{message}")
}
fn fails(message: String) -> Result<u32, String> {
    Err(message)
}
fn chatty(n: u32) -> u32 {
    println!("this goes to stderr, not into the protocol");
    n + 1
}
fn init_fails(_: ()) -> Result<(), String> {
    Err("initializer says no".into())
}
fn init_ok(_: ()) {}

static IS_PRIME: TaskFn<u64, bool> = TaskFn::new("is_prime", is_prime);
static PID: TaskFn<(), u32> = TaskFn::new("pid", pid);
static SLEEP: TaskFn<u64, u64> = TaskFn::new("sleep", sleep_ms);
static KILL_SELF: TaskFn<(), u32> = TaskFn::new("kill_self", kill_self);
static ABORT_SELF: TaskFn<(), u32> = TaskFn::new("abort_self", abort_self);
static PANICS: TaskFn<String, u32> = TaskFn::new("panics", panics);
static FAILS: TaskFn<String, u32> = TaskFn::fallible("fails", fails);
static CHATTY: TaskFn<u32, u32> = TaskFn::new("chatty", chatty);
static INIT_FAILS: TaskFn<(), ()> = TaskFn::fallible("init_fails", init_fails);
static INIT_OK: TaskFn<(), ()> = TaskFn::new("init_ok", init_ok);

fn pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(workers)
        .build()
        .unwrap()
}

fn pid_of(pid: u32) -> Pid {
    Pid::from_raw(pid as i32).expect("a worker's pid is positive")
}

fn reaped(pid: u32) -> bool {
    // Signal 0 only checks for existence; a zombie still exists until reaped.
    test_kill_process(pid_of(pid)).is_err()
}

fn test_map_and_results_in_order() {
    let pool = pool(2);
    let numbers = [
        112272535095293u64,
        112582705942171,
        112272535095293,
        115280095190773,
        115797848077099,
        1099726899285419,
    ];
    let results: Vec<bool> = pool
        .map(numbers.iter().map(|&n| IS_PRIME.call(n)), None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, [true, true, true, true, true, false]);
}

fn test_exceptions_and_panics_fail_their_future_only() {
    let pool = pool(1);
    match pool
        .submit(PANICS.call("boom".into()))
        .unwrap()
        .result(None)
    {
        Err(ResultError::Task(TaskError::Panicked(m))) => assert_eq!(m, "boom"),
        other => panic!("{other:?}"),
    }
    match pool.submit(FAILS.call("nope".into())).unwrap().result(None) {
        Err(ResultError::Task(e)) => assert_eq!(e.to_string(), "nope"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        pool.submit(CHATTY.call(1)).unwrap().result(None).unwrap(),
        2
    );
    assert!(pool.submit(IS_PRIME.call(7)).unwrap().result(None).unwrap());
}

fn killed_worker_breaks_the_pool(task: &'static TaskFn<(), u32>) {
    let pool = pool(2);
    let pending: Vec<_> = (0..6)
        .map(|_| pool.submit(SLEEP.call(5_000)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let pids = pool.worker_pids();
    let start = Instant::now();
    let killer = pool.submit(task.call(())).unwrap();
    kill_process(pid_of(pids[0]), Signal::KILL).unwrap();
    let broken = |e: Result<Option<TaskError>, ResultError>| {
        assert!(
            matches!(e, Ok(Some(TaskError::BrokenProcessPool(_)))),
            "expected BrokenProcessPool, got {e:?}"
        );
    };
    for f in &pending {
        broken(f.exception(Some(Duration::from_secs(1))));
    }
    broken(killer.exception(Some(Duration::from_secs(1))));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    match pool.submit(IS_PRIME.call(3)) {
        Err(SubmitError::Broken(_, e)) => assert!(e.is_broken_executor()),
        other => panic!("{other:?}"),
    }
    drop(pool);
    for pid in pids {
        assert!(reaped(pid), "worker {pid} left behind");
    }
}

fn test_sigkill_mid_task_gives_broken_process_pool() {
    killed_worker_breaks_the_pool(&KILL_SELF);
}

fn test_abort_gives_broken_process_pool() {
    let pool = pool(1);
    match pool
        .submit(ABORT_SELF.call(()))
        .unwrap()
        .exception(Some(Duration::from_secs(5)))
    {
        Ok(Some(TaskError::BrokenProcessPool(_))) => {}
        other => panic!("{other:?}"),
    }
}

fn test_max_tasks_per_child_replaces_processes() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..6)
        .map(|_| pool.submit(PID.call(())).unwrap().result(None).unwrap())
        .collect();
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
    assert_eq!(pids[2], pids[3]);
    assert_ne!(pids[3], pids[4]);
    drop(pool);
    for pid in pids {
        assert!(reaped(pid), "worker {pid} left behind");
    }
}

fn test_processes_terminate_on_shutdown() {
    let pool = pool(2);
    let futures: Vec<_> = (0..4)
        .map(|_| pool.submit(SLEEP.call(50)).unwrap())
        .collect();
    for f in as_completed(futures, None) {
        f.unwrap();
    }
    let pids = pool.worker_pids();
    assert!(!pids.is_empty());
    pool.shutdown(true, false);
    for pid in pids {
        assert!(reaped(pid), "worker {pid} left behind");
    }
}

fn test_cancel_futures_on_shutdown() {
    let pool = pool(1);
    let futures: Vec<_> = (0..20)
        .map(|_| pool.submit(SLEEP.call(50)).unwrap())
        .collect();
    pool.shutdown(true, true);
    assert!(futures.iter().all(|f| f.done()));
    assert!(futures.iter().filter(|f| f.cancelled()).count() >= 15);
}

fn test_initializer() {
    let ok = ProcessPoolExecutor::builder()
        .max_workers(1)
        .initializer(&INIT_OK)
        .build()
        .unwrap();
    assert!(ok.submit(IS_PRIME.call(5)).unwrap().result(None).unwrap());
    let broken = ProcessPoolExecutor::builder()
        .max_workers(2)
        .initializer(&INIT_FAILS)
        .build()
        .unwrap();
    let futures: Vec<_> = (0..4)
        .map(|i| broken.submit(IS_PRIME.call(i)))
        .filter_map(Result::ok)
        .collect();
    for f in futures {
        match f.exception(Some(Duration::from_secs(5))) {
            Ok(Some(TaskError::BrokenProcessPool(why))) => {
                assert!(why.contains("initializer says no") || why.contains("terminated"))
            }
            other => panic!("{other:?}"),
        }
    }
}

fn test_run_after_shutdown() {
    let pool = pool(1);
    pool.shutdown(true, false);
    assert!(matches!(
        pool.submit(IS_PRIME.call(3)),
        Err(SubmitError::Shutdown(_))
    ));
}

fn main() {
    init(&[
        &IS_PRIME,
        &PID,
        &SLEEP,
        &KILL_SELF,
        &ABORT_SELF,
        &PANICS,
        &FAILS,
        &CHATTY,
        &INIT_FAILS,
        &INIT_OK,
    ]);
    let tests: &[(&str, fn())] = &[
        (
            "test_map_and_results_in_order",
            test_map_and_results_in_order,
        ),
        (
            "test_exceptions_and_panics_fail_their_future_only",
            test_exceptions_and_panics_fail_their_future_only,
        ),
        (
            "test_sigkill_mid_task_gives_broken_process_pool",
            test_sigkill_mid_task_gives_broken_process_pool,
        ),
        (
            "test_abort_gives_broken_process_pool",
            test_abort_gives_broken_process_pool,
        ),
        (
            "test_max_tasks_per_child_replaces_processes",
            test_max_tasks_per_child_replaces_processes,
        ),
        (
            "test_processes_terminate_on_shutdown",
            test_processes_terminate_on_shutdown,
        ),
        (
            "test_cancel_futures_on_shutdown",
            test_cancel_futures_on_shutdown,
        ),
        ("test_initializer", test_initializer),
        ("test_run_after_shutdown", test_run_after_shutdown),
    ];
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match std::panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("process pool: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
