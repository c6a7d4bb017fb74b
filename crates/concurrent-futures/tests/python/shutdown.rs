//! test_shutdown.py (thread half)
use crate::*;
use concurrent_futures::{Executor, SubmitError, ThreadPoolExecutor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn test_run_after_shutdown() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    pool.shutdown(true, false);
    match pool.submit(|| 5) {
        Err(SubmitError::Shutdown(task)) => assert_eq!(task.run().unwrap(), 5),
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_cancel_futures() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let futures: Vec<_> = (0..50)
        .map(|_| {
            pool.submit(|| std::thread::sleep(Duration::from_millis(20)))
                .unwrap()
        })
        .collect();
    pool.shutdown(true, true);
    let cancelled = futures.iter().filter(|f| f.cancelled()).count();
    assert!(cancelled > 40, "only {cancelled} cancelled");
    assert!(futures.iter().all(|f| f.done()));
}

#[test]
fn test_threads_terminate_and_del_shutdown() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .build()
        .unwrap();
    let f = pool
        .submit(move || {
            std::thread::sleep(Duration::from_millis(50));
            r.store(true, Ordering::SeqCst);
        })
        .unwrap();
    drop(pool); // shutdown(wait=true)
    assert!(ran.load(Ordering::SeqCst));
    assert!(f.done());
}

#[test]
fn test_shutdown_no_wait() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let f = pool
        .submit(|| {
            std::thread::sleep(Duration::from_millis(100));
            3
        })
        .unwrap();
    pool.shutdown(false, false);
    assert_eq!(f.result(Some(Duration::from_secs(5))).unwrap(), 3);
}

#[test]
fn test_thread_names_assigned() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("SpecialPool")
        .build()
        .unwrap();
    let name = pool
        .submit(|| std::thread::current().name().unwrap().to_owned())
        .unwrap()
        .result(None)
        .unwrap();
    assert!(name.starts_with("SpecialPool_"), "{name}");
}

#[test]
fn test_thread_names_default() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let name = pool
        .submit(|| std::thread::current().name().unwrap().to_owned())
        .unwrap()
        .result(None)
        .unwrap();
    assert!(name.starts_with("ThreadPoolExecutor-"), "{name}");
}
