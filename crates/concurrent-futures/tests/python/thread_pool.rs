//! test_thread_pool.py and test_init.py (thread half)
use crate::*;
use concurrent_futures::{Executor, ResultError, SubmitError, ThreadPoolExecutor, ThreadTask};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

#[test]
fn test_map_submits_without_iteration() {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let f = Arc::clone(&finished);
    let results = pool
        .map(move |x: i32| f.lock().unwrap().push(x), 0..10, None)
        .unwrap();
    pool.shutdown(true, false);
    drop(results);
    let mut done = finished.lock().unwrap().clone();
    done.sort();
    assert_eq!(done, (0..10).collect::<Vec<_>>());
}
use std::sync::Mutex;

#[test]
fn test_default_workers() {
    let pool = ThreadPoolExecutor::new();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(pool.max_workers(), 32.min(cpus + 4));
}

#[test]
fn test_saturation() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(5));
    let futures: Vec<_> = (0..4 * 5)
        .map(|i| {
            let b = Arc::clone(&barrier);
            pool.submit(move || {
                if i < 4 {
                    b.wait();
                }
            })
            .unwrap()
        })
        .collect();
    barrier.wait();
    assert_eq!(pool.thread_count(), 4);
    for f in futures {
        f.result(Some(Duration::from_secs(5))).unwrap();
    }
}

#[test]
fn test_idle_thread_reuse() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(8)
        .build()
        .unwrap();
    pool.submit(|| ()).unwrap().result(None).unwrap();
    pool.submit(|| ()).unwrap().result(None).unwrap();
    pool.submit(|| ()).unwrap().result(None).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(pool.thread_count(), 1);
}

/// Not in CPython's suite: a thread that is idle takes one of two jobs submitted together,
/// and the pool starts a second thread for the other; both must run at once (each waits for
/// the other). Before, the idle thread counted for both submits until it took the first job,
/// so the second waited behind it (this failed within a few of the 50 tries, after the
/// 10-second wait): a run with two workers compiled its two files one after the other.
#[test]
fn two_jobs_submitted_to_one_idle_thread_run_at_once() {
    for _ in 0..50 {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap();
        pool.submit(|| ()).unwrap().result(None).unwrap();
        let (a_to_b_tx, a_to_b_rx) = crossbeam_channel::bounded(1);
        let (b_to_a_tx, b_to_a_rx) = crossbeam_channel::bounded(1);
        let meet = |tell: crossbeam_channel::Sender<()>, hear: crossbeam_channel::Receiver<()>| {
            move || {
                tell.send(()).unwrap();
                hear.recv_timeout(Duration::from_secs(10)).is_ok()
            }
        };
        let a = pool.submit(meet(a_to_b_tx, b_to_a_rx)).unwrap();
        let b = pool.submit(meet(b_to_a_tx, a_to_b_rx)).unwrap();
        assert!(a.result(None).unwrap() && b.result(None).unwrap());
        assert_eq!(pool.thread_count(), 2);
    }
}

/// Not in CPython's suite, but CPython's behaviour: a done callback runs on the pool thread
/// that finished the task, and may submit to the same pool and wait for the result. That
/// thread counted itself idle before completing the future (so that a caller who sees the
/// result reuses it); the callback's task must go to another thread, not be promised to the
/// thread that waits for it.
#[test]
fn a_done_callback_may_wait_for_a_task_it_submits_to_the_same_pool() {
    let pool = Arc::new(
        ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap(),
    );
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let first = pool
        .submit(move || release_rx.recv_timeout(Duration::from_secs(10)).is_ok())
        .unwrap();
    let (answer_tx, answer_rx) = crossbeam_channel::bounded(1);
    let same_pool = Arc::clone(&pool);
    first.add_done_callback(move |_| {
        let inner = same_pool.submit(|| 6 * 7).unwrap();
        let _ = answer_tx.send(inner.result(Some(Duration::from_secs(5))).ok());
    });
    release_tx.send(()).unwrap();
    assert!(first.result(None).unwrap());
    assert_eq!(
        answer_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(42)
    );
}

#[test]
fn test_executor_map_current_future_cancel() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&started);
    let mut results = pool
        .map(
            move |ms: u64| {
                s.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(ms));
                ms
            },
            [100, 1_500, 1_500, 1_500],
            Some(Duration::from_millis(300)),
        )
        .unwrap();
    assert_eq!(results.next().unwrap().unwrap(), 100);
    assert!(matches!(results.next().unwrap(), Err(ResultError::Timeout)));
    drop(results);
    pool.shutdown(true, false);
    // The 1.5 s task already running finished; the last two were cancelled, never started.
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

#[test]
fn map_results_in_input_order() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    let out: Vec<u64> = pool
        .map(
            |ms: u64| {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            },
            [40, 10, 30, 0, 20],
            None,
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, [40, 10, 30, 0, 20]);
}

#[test]
fn a_failing_task_fails_its_future_only() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let panicking = pool.submit(|| -> i32 { panic!("boom {}", 7) }).unwrap();
    let failing = Executor::submit(
        &pool,
        ThreadTask::fallible(|| -> Result<i32, std::io::Error> {
            Err(std::io::Error::other("disk on fire"))
        }),
    )
    .unwrap();
    let fine = pool.submit(|| 1).unwrap();
    match panicking.result(None) {
        Err(ResultError::Task(TaskError::Panicked(message))) => assert_eq!(message, "boom 7"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        failing.exception(None).unwrap().unwrap().to_string(),
        "disk on fire"
    );
    assert_eq!(fine.result(None).unwrap(), 1);
}

#[test]
fn test_initializer_and_broken_thread_pool() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| Err::<(), _>("init failed"))
        .build()
        .unwrap();
    let futures: Vec<_> = (0..5)
        .map(|i| pool.submit(move || i))
        .filter_map(Result::ok)
        .collect();
    for f in futures {
        match f.result(Some(Duration::from_secs(5))) {
            Err(ResultError::Task(TaskError::BrokenThreadPool(why))) => {
                assert!(why.contains("init failed"))
            }
            other => panic!("{other:?}"),
        }
    }
    match pool.submit(|| 1) {
        Err(SubmitError::Broken(task, error)) => {
            assert!(error.is_broken_executor());
            assert_eq!(task.run().unwrap(), 1, "the task is handed back");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_initializer_runs_once_per_thread() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok::<(), String>(())
        })
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(3));
    let fs: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&barrier);
            pool.submit(move || {
                b.wait();
            })
            .unwrap()
        })
        .collect();
    barrier.wait();
    for f in fs {
        f.result(None).unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 2);
}
