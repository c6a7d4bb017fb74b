//! `wait` and `as_completed` (PEP 3148's module functions).
//!
//! A [`Waiter`] is registered with every future it watches; a completing future pushes its
//! index into the waiter's queue and signals it. Registration checks "already done?" under the
//! future's own lock, so a future that completes between the caller's check and the
//! registration is still reported: no lost wake-ups. Each completion is O(1) for the waiter,
//! so `as_completed` over many thousands of futures stays linear.

use crate::error::AsCompletedTimeout;
use crate::future::Future;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) struct Waiter {
    done: Mutex<VecDeque<usize>>,
    signal: Condvar,
}

impl Waiter {
    fn new() -> Arc<Self> {
        Arc::new(Waiter {
            done: Mutex::new(VecDeque::new()),
            signal: Condvar::new(),
        })
    }

    pub(crate) fn add_done(&self, index: usize) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(index);
        self.signal.notify_all();
    }

    /// The next completed index, waiting until `deadline` (`None`: forever).
    fn next(&self, deadline: Option<Instant>) -> Option<usize> {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(index) = done.pop_front() {
                return Some(index);
            }
            match deadline {
                None => done = self.signal.wait(done).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    done = self
                        .signal
                        .wait_timeout(done, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }
}

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any future finishes or is cancelled.
    FirstCompleted,
    /// As soon as any future finishes with an error, or when all are done.
    FirstException,
    /// When all futures are done.
    AllCompleted,
}

/// Unique futures of `futures`, in first-seen order (Python takes a set).
fn unique<T>(futures: impl IntoIterator<Item = Future<T>>) -> Vec<Future<T>> {
    let mut seen = HashSet::new();
    futures
        .into_iter()
        .filter(|f| seen.insert(f.id()))
        .collect()
}

/// Waits for `futures` (`concurrent.futures.wait`) until `return_when` is met or `timeout`
/// passes, and returns `(done, not_done)`.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{wait, Future, ReturnWhen};
/// let (a, b) = (Future::new(), Future::<u8>::new());
/// a.set_running_or_notify_cancel();
/// a.set_result(1).unwrap();
/// let (done, not_done) = wait([a, b], Some(std::time::Duration::ZERO), ReturnWhen::AllCompleted);
/// assert_eq!((done.len(), not_done.len()), (1, 1));
/// ```
pub fn wait<T>(
    futures: impl IntoIterator<Item = Future<T>>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> (Vec<Future<T>>, Vec<Future<T>>) {
    let futures = unique(futures);
    let deadline = timeout.map(|t| Instant::now() + t);
    let waiter = Waiter::new();
    for (index, future) in futures.iter().enumerate() {
        future.register_waiter(&waiter, index);
    }
    let mut is_done = vec![false; futures.len()];
    let mut done_count = 0;
    loop {
        if done_count == futures.len() {
            break;
        }
        let satisfied = match return_when {
            ReturnWhen::AllCompleted => false,
            ReturnWhen::FirstCompleted => done_count > 0,
            ReturnWhen::FirstException => {
                futures.iter().zip(&is_done).any(|(f, &d)| d && f.raised())
            }
        };
        if satisfied {
            break;
        }
        match waiter.next(deadline) {
            Some(index) => {
                if !is_done[index] {
                    is_done[index] = true;
                    done_count += 1;
                }
            }
            None => break,
        }
    }
    // Anything that completed meanwhile is reported as done too.
    while let Some(index) = waiter.next(Some(Instant::now())) {
        is_done[index] = true;
    }
    let (done, not_done): (Vec<_>, Vec<_>) =
        futures.into_iter().zip(is_done).partition(|(_, d)| *d);
    (
        done.into_iter().map(|(f, _)| f).collect(),
        not_done.into_iter().map(|(f, _)| f).collect(),
    )
}

/// Yields `futures` as they complete (`concurrent.futures.as_completed`): those already done
/// first, then each as it finishes or is cancelled. When `timeout` passes first, the iterator
/// yields one [`AsCompletedTimeout`] error ("N (of M) futures unfinished") and ends.
pub fn as_completed<T>(
    futures: impl IntoIterator<Item = Future<T>>,
    timeout: Option<Duration>,
) -> AsCompleted<T> {
    let futures = unique(futures);
    let waiter = Waiter::new();
    for (index, future) in futures.iter().enumerate() {
        future.register_waiter(&waiter, index);
    }
    AsCompleted {
        total: futures.len(),
        futures: futures.into_iter().map(Some).collect(),
        yielded: 0,
        deadline: timeout.map(|t| Instant::now() + t),
        waiter,
        timed_out: false,
    }
}

/// The iterator of [`as_completed`].
pub struct AsCompleted<T> {
    futures: Vec<Option<Future<T>>>,
    total: usize,
    yielded: usize,
    deadline: Option<Instant>,
    waiter: Arc<Waiter>,
    timed_out: bool,
}

impl<T> std::fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AsCompleted({} of {} yielded)", self.yielded, self.total)
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Result<Future<T>, AsCompletedTimeout>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.yielded == self.total || self.timed_out {
            return None;
        }
        loop {
            match self.waiter.next(self.deadline) {
                Some(index) => {
                    if let Some(future) = self.futures[index].take() {
                        self.yielded += 1;
                        return Some(Ok(future));
                    }
                }
                None => {
                    self.timed_out = true;
                    return Some(Err(AsCompletedTimeout {
                        unfinished: self.total - self.yielded,
                        total: self.total,
                    }));
                }
            }
        }
    }
}
