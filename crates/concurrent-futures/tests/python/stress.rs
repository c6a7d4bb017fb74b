//! Stress tests for the future state machine and waiter registration: many threads race
//! completion, cancellation, callbacks and waits; every waiter must be woken exactly when it
//! should (no lost wake-ups) and every callback must run exactly once.
use crate::*;
use concurrent_futures::{ReturnWhen, as_completed, wait};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn racing_completion_cancellation_and_callbacks() {
    for round in 0..300 {
        let f: Future<i32> = Future::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let mut handles = Vec::new();
        {
            let (f, b) = (f.clone(), Arc::clone(&barrier));
            handles.push(std::thread::spawn(move || {
                b.wait();
                if f.set_running_or_notify_cancel() {
                    f.set_result(round).unwrap();
                }
            }));
        }
        {
            let (f, b) = (f.clone(), Arc::clone(&barrier));
            handles.push(std::thread::spawn(move || {
                b.wait();
                f.cancel();
            }));
        }
        {
            let (f, b, c) = (f.clone(), Arc::clone(&barrier), Arc::clone(&calls));
            handles.push(std::thread::spawn(move || {
                b.wait();
                f.add_done_callback(move |_| {
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }));
        }
        barrier.wait();
        let (done, _) = wait(
            [f.clone()],
            Some(Duration::from_secs(5)),
            ReturnWhen::AllCompleted,
        );
        assert_eq!(done.len(), 1, "round {round}: lost wake-up");
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "round {round}");
        assert!(f.cancelled() || f.result(None).unwrap() == round);
    }
}

#[test]
fn many_waiters_on_many_futures() {
    let futures: Vec<Future<usize>> = (0..200).map(|_| Future::new()).collect();
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let fs = futures.clone();
            std::thread::spawn(move || {
                as_completed(fs, Some(Duration::from_secs(10)))
                    .filter(Result::is_ok)
                    .count()
            })
        })
        .collect();
    let completers: Vec<_> = futures
        .chunks(50)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || {
                for (i, f) in chunk.iter().enumerate() {
                    f.set_running_or_notify_cancel();
                    f.set_result(i).unwrap();
                }
            })
        })
        .collect();
    for c in completers {
        c.join().unwrap();
    }
    for w in waiters {
        assert_eq!(w.join().unwrap(), 200);
    }
}
