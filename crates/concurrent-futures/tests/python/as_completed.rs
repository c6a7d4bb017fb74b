//! test_as_completed.py
use crate::*;
use concurrent_futures::{AsCompletedTimeout, ThreadPoolExecutor, as_completed};

#[test]
fn test_no_timeout() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let future1 = pool.submit(|| 1).unwrap();
    let future2 = pool.submit(|| 2).unwrap();
    let all = vec![cancelled(), exception(), successful(5), future1, future2];
    let completed: Vec<Future<i32>> = as_completed(all.clone(), None)
        .map(Result::unwrap)
        .collect();
    assert_eq!(completed.len(), 5);
    for f in &all {
        assert!(completed.iter().any(|c| c.ptr_eq(f)));
    }
}

#[test]
fn test_future_times_out() {
    // Futures that never complete make as_completed time out after yielding the done ones,
    // already-finished ones first.
    let (s, e, c) = (successful(1), exception(), cancelled());
    let never = pending();
    let mut seen = Vec::new();
    let mut timeout = None;
    for item in as_completed(
        [s.clone(), e.clone(), c.clone(), never],
        Some(Duration::from_millis(100)),
    ) {
        match item {
            Ok(f) => seen.push(f),
            Err(t) => timeout = Some(t),
        }
    }
    assert_eq!(seen.len(), 3);
    assert!(seen[0].ptr_eq(&s) && seen[1].ptr_eq(&e) && seen[2].ptr_eq(&c));
    assert_eq!(
        timeout,
        Some(AsCompletedTimeout {
            unfinished: 1,
            total: 4
        })
    );
}

#[test]
fn test_duplicate_futures() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap();
    let future1 = pool.submit(|| 3).unwrap();
    let completed: Vec<_> =
        as_completed([future1.clone(), future1.clone(), future1], None).collect();
    assert_eq!(completed.len(), 1);
}

#[test]
fn test_correct_timeout_exception_msg() {
    let futures = [pending(), running(), successful(1), pending()];
    let error = as_completed(futures, Some(Duration::ZERO))
        .find_map(Result::err)
        .unwrap();
    assert_eq!(error.to_string(), "3 (of 4) futures unfinished");
}

#[test]
fn many_futures_complete_in_linear_time() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let futures: Vec<Future<usize>> = (0..20_000)
        .map(|i| pool.submit(move || i).unwrap())
        .collect();
    let sum: usize = as_completed(futures, Some(Duration::from_secs(30)))
        .map(|f| f.unwrap().result(None).unwrap())
        .sum();
    assert_eq!(sum, (0..20_000).sum::<usize>());
}
