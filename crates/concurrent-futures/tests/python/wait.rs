//! test_wait.py
use crate::*;
use concurrent_futures::{ReturnWhen, ThreadPoolExecutor, wait};
use std::time::Instant;

fn contains(set: &[Future<i32>], f: &Future<i32>) -> bool {
    set.iter().any(|x| x.ptr_eq(f))
}

fn sleeper(pool: &ThreadPoolExecutor, ms: u64, value: i32) -> Future<i32> {
    pool.submit(move || {
        std::thread::sleep(Duration::from_millis(ms));
        value
    })
    .unwrap()
}

#[test]
fn test_first_completed() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 10, 1);
    let future2 = sleeper(&pool, 1500, 2);
    let (done, not_done) = wait(
        [cancelled(), future1.clone(), future2.clone()],
        Some(Duration::from_secs(5)),
        ReturnWhen::FirstCompleted,
    );
    assert!(!done.is_empty());
    assert!(contains(&not_done, &future2) || done.len() == 3);
    assert!(!contains(&not_done, &future1) || done.iter().any(|f| f.cancelled()));
}

#[test]
fn test_first_completed_some_already_completed() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 500, 1);
    let (c, s) = (cancelled(), successful(1));
    let (done, not_done) = wait(
        [c.clone(), s.clone(), future1.clone()],
        Some(Duration::from_secs(5)),
        ReturnWhen::FirstCompleted,
    );
    assert!(contains(&done, &c) && contains(&done, &s));
    assert!(contains(&not_done, &future1));
}

#[test]
fn test_first_exception() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 10, 1);
    let future2 = pool
        .submit(|| -> i32 {
            std::thread::sleep(Duration::from_millis(100));
            panic!("exception_with_timeout");
        })
        .unwrap();
    let future3 = sleeper(&pool, 3000, 3);
    let (done, not_done) = wait(
        [future1.clone(), future2.clone(), future3.clone()],
        Some(Duration::from_secs(10)),
        ReturnWhen::FirstException,
    );
    assert!(contains(&done, &future1) && contains(&done, &future2));
    assert!(contains(&not_done, &future3));
}

#[test]
fn test_first_exception_some_already_complete() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 1000, 1);
    let (s, e, c) = (successful(1), exception(), cancelled());
    let (done, not_done) = wait(
        [s.clone(), e.clone(), c.clone(), future1.clone()],
        Some(Duration::from_secs(5)),
        ReturnWhen::FirstException,
    );
    assert_eq!(done.len(), 3);
    assert!(contains(&not_done, &future1));
}

#[test]
fn test_first_exception_one_already_failed() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 1000, 1);
    let e = exception();
    let start = Instant::now();
    let (done, not_done) = wait(
        [e.clone(), future1.clone()],
        Some(Duration::from_secs(5)),
        ReturnWhen::FirstException,
    );
    assert!(start.elapsed() < Duration::from_millis(900));
    assert!(contains(&done, &e) && contains(&not_done, &future1));
}

#[test]
fn test_all_completed() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 20, 1);
    let future2 = sleeper(&pool, 40, 2);
    let all = [successful(1), cancelled(), exception(), future1, future2];
    let (done, not_done) = wait(all.clone(), None, ReturnWhen::AllCompleted);
    assert_eq!(done.len(), 5);
    assert!(not_done.is_empty());
    for f in &all {
        assert!(contains(&done, f));
    }
}

#[test]
fn test_timeout() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let future1 = sleeper(&pool, 10, 1);
    let future2 = sleeper(&pool, 3000, 2);
    let (done, not_done) = wait(
        [successful(1), exception(), future1.clone(), future2.clone()],
        Some(Duration::from_millis(500)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(done.len(), 3);
    assert!(contains(&not_done, &future2));
    assert_eq!(not_done.len(), 1);
}

#[test]
fn test_pending_calls_race() {
    // Futures completed by other threads while wait() registers never go missing.
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .build()
        .unwrap();
    for _ in 0..50 {
        let futures: Vec<Future<i32>> = (0..100).map(|i| pool.submit(move || i).unwrap()).collect();
        let (done, not_done) = wait(
            futures,
            Some(Duration::from_secs(10)),
            ReturnWhen::AllCompleted,
        );
        assert_eq!((done.len(), not_done.len()), (100, 0));
    }
}
