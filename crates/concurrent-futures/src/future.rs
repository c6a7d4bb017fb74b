//! `Future`: the result of work that may not have finished yet (PEP 3148's `Future`).
//!
//! A future is a handle to shared state behind one mutex: a status (pending, running,
//! cancelled, finished), the outcome, and who to tell when it completes (done callbacks, the
//! waiters registered by [`crate::wait`] and [`crate::as_completed`], and async wakers). All
//! completion paths go through one function that changes the state under the lock and notifies
//! everyone after releasing it, so no wake-up is lost and no callback runs under the lock.

use crate::error::{ResultError, TaskError};
use crate::waiter::Waiter;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Where a future is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureState {
    /// Waiting to run; can still be cancelled.
    Pending,
    /// Running; can no longer be cancelled.
    Running,
    /// Cancelled before it ran.
    Cancelled,
    /// Ran to completion, with a value or an error.
    Finished,
}

type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;

struct State<T> {
    status: FutureState,
    outcome: Option<Result<T, TaskError>>,
    callbacks: Vec<Callback<T>>,
    waiters: Vec<(Weak<Waiter>, usize)>,
    wakers: Vec<Waker>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

/// The eventual result of a task. Clones are handles to the same future.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, FutureState};
/// let future = Future::new();
/// assert!(future.set_running_or_notify_cancel());
/// future.set_result(42).unwrap();
/// assert_eq!(future.result(None).unwrap(), 42);
/// assert_eq!(future.result(None).unwrap(), 42); // as often as you like
/// assert_eq!(future.state(), FutureState::Finished);
/// ```
pub struct Future<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        match (&state.status, &state.outcome) {
            (FutureState::Finished, Some(Err(error))) => {
                write!(
                    f,
                    "<Future at {:p} state=finished raised {error}>",
                    Arc::as_ptr(&self.shared)
                )
            }
            (status, _) => write!(
                f,
                "<Future at {:p} state={}>",
                Arc::as_ptr(&self.shared),
                format!("{status:?}").to_lowercase()
            ),
        }
    }
}

/// Setting the outcome of a future that already has one (`InvalidStateError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the future is already {0:?}")]
pub struct InvalidStateError(pub FutureState);

impl<T> Default for Future<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Future<T> {
    /// A pending future. Executors create these; code that runs the work completes them with
    /// [`Future::set_running_or_notify_cancel`] then [`Future::set_result`] or
    /// [`Future::set_exception`].
    pub fn new() -> Self {
        Future {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    status: FutureState::Pending,
                    outcome: None,
                    callbacks: Vec::new(),
                    waiters: Vec::new(),
                    wakers: Vec::new(),
                }),
                changed: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Callbacks never run under the lock, so a panic cannot poison it mid-update; recover
        // the state anyway rather than propagate a poison.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// True when both handles are the same future.
    pub fn ptr_eq(&self, other: &Future<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.shared) as *const () as usize
    }

    /// The current state.
    pub fn state(&self) -> FutureState {
        self.lock().status
    }

    /// Cancels the future if it has not started. Returns false when it is running or finished,
    /// true when it is (now or already) cancelled.
    pub fn cancel(&self) -> bool {
        let mut state = self.lock();
        match state.status {
            FutureState::Running | FutureState::Finished => false,
            FutureState::Cancelled => true,
            FutureState::Pending => {
                state.status = FutureState::Cancelled;
                self.notify(state);
                true
            }
        }
    }

    /// True when cancelled.
    pub fn cancelled(&self) -> bool {
        self.state() == FutureState::Cancelled
    }

    /// True while running.
    pub fn running(&self) -> bool {
        self.state() == FutureState::Running
    }

    /// True when cancelled or finished.
    pub fn done(&self) -> bool {
        matches!(self.state(), FutureState::Cancelled | FutureState::Finished)
    }

    /// For executors: marks the future running and returns true, or returns false when it was
    /// cancelled (the work must then be skipped).
    ///
    /// # Panics
    ///
    /// When the future is already running or finished: an executor ran it twice.
    pub fn set_running_or_notify_cancel(&self) -> bool {
        let mut state = self.lock();
        match state.status {
            FutureState::Pending => {
                state.status = FutureState::Running;
                drop(state);
                self.shared.changed.notify_all();
                true
            }
            FutureState::Cancelled => false,
            other => panic!("Future in unexpected state: {other:?}"),
        }
    }

    /// Completes the future with a value.
    ///
    /// # Errors
    ///
    /// [`InvalidStateError`] when it is already cancelled or finished.
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.complete(Ok(value))
    }

    /// Completes the future with an error (its "exception").
    ///
    /// # Errors
    ///
    /// [`InvalidStateError`] when it is already cancelled or finished.
    pub fn set_exception(&self, error: TaskError) -> Result<(), InvalidStateError> {
        self.complete(Err(error))
    }

    /// Completes the future with `outcome`.
    ///
    /// # Errors
    ///
    /// [`InvalidStateError`] when it is already cancelled or finished.
    pub fn complete(&self, outcome: Result<T, TaskError>) -> Result<(), InvalidStateError> {
        let mut state = self.lock();
        if matches!(state.status, FutureState::Cancelled | FutureState::Finished) {
            return Err(InvalidStateError(state.status));
        }
        state.status = FutureState::Finished;
        state.outcome = Some(outcome);
        self.notify(state);
        Ok(())
    }

    /// The single completion path: tell waiters, wakers and callbacks, outside the lock.
    fn notify(&self, mut state: MutexGuard<'_, State<T>>) {
        let callbacks = std::mem::take(&mut state.callbacks);
        let waiters = std::mem::take(&mut state.waiters);
        let wakers = std::mem::take(&mut state.wakers);
        drop(state);
        self.shared.changed.notify_all();
        for (waiter, index) in waiters {
            if let Some(waiter) = waiter.upgrade() {
                waiter.add_done(index);
            }
        }
        for waker in wakers {
            waker.wake();
        }
        for callback in callbacks {
            self.run_callback(callback);
        }
    }

    fn run_callback(&self, callback: Callback<T>) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(self))) {
            crate::report_callback_panic(&format!("{self:?}"), TaskError::from_panic(payload));
        }
    }

    /// Calls `callback` with this future when it completes (or at once, on this thread, when
    /// it already has). Callbacks run in the order added; a panicking callback is reported on
    /// stderr and does not affect the future or the other callbacks.
    ///
    /// A callback runs on the thread that completed the future: for a
    /// [`crate::ThreadPoolExecutor`], a pool thread that already counts as idle (so that
    /// whoever sees the result and submits again reuses it). A task the callback submits to
    /// that pool is never promised to the callback's own thread, so the callback may wait for
    /// it (as in CPython) while the pool has a thread to spare.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        let mut state = self.lock();
        if matches!(state.status, FutureState::Cancelled | FutureState::Finished) {
            drop(state);
            self.run_callback(Box::new(callback));
        } else {
            state.callbacks.push(Box::new(callback));
        }
    }

    /// Registers `waiter` to be told (with `index`) when this future completes; told at once
    /// when it already has. Dead registrations are pruned here.
    pub(crate) fn register_waiter(&self, waiter: &Arc<Waiter>, index: usize) {
        let mut state = self.lock();
        if matches!(state.status, FutureState::Cancelled | FutureState::Finished) {
            drop(state);
            waiter.add_done(index);
        } else {
            state.waiters.retain(|(w, _)| w.strong_count() > 0);
            state.waiters.push((Arc::downgrade(waiter), index));
        }
    }

    /// True when finished with an error (for `FirstException`).
    pub(crate) fn raised(&self) -> bool {
        matches!(self.lock().outcome, Some(Err(_)))
    }

    /// Waits until done or until `timeout` passes; returns the guard in either case.
    fn wait_done(&self, timeout: Option<Duration>) -> MutexGuard<'_, State<T>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            if matches!(state.status, FutureState::Cancelled | FutureState::Finished) {
                return state;
            }
            match deadline {
                None => {
                    state = self
                        .shared
                        .changed
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return state;
                    }
                    state = self
                        .shared
                        .changed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    /// The task's error, `Ok(None)` when it succeeded; waits up to `timeout` (`None`: forever).
    ///
    /// # Errors
    ///
    /// [`ResultError::Cancelled`] or [`ResultError::Timeout`].
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<TaskError>, ResultError> {
        let state = self.wait_done(timeout);
        match (&state.status, &state.outcome) {
            (FutureState::Cancelled, _) => Err(ResultError::Cancelled),
            (FutureState::Finished, Some(Err(error))) => Ok(Some(error.clone())),
            (FutureState::Finished, _) => Ok(None),
            _ => Err(ResultError::Timeout),
        }
    }

    /// Runs `read` on the outcome once done, without cloning it; waits up to `timeout`.
    ///
    /// # Errors
    ///
    /// [`ResultError::Cancelled`] or [`ResultError::Timeout`].
    pub fn with_result<R>(
        &self,
        timeout: Option<Duration>,
        read: impl FnOnce(&Result<T, TaskError>) -> R,
    ) -> Result<R, ResultError> {
        let state = self.wait_done(timeout);
        match (&state.status, &state.outcome) {
            (FutureState::Cancelled, _) => Err(ResultError::Cancelled),
            (FutureState::Finished, Some(outcome)) => Ok(read(outcome)),
            _ => Err(ResultError::Timeout),
        }
    }
}

impl<T: Clone> Future<T> {
    /// The value, waiting up to `timeout` (`None`: forever). May be called any number of times.
    ///
    /// # Errors
    ///
    /// [`ResultError::Cancelled`], [`ResultError::Timeout`] (the work goes on), or the task's
    /// error as [`ResultError::Task`].
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, ResultError> {
        self.with_result(timeout, |outcome| {
            outcome.clone().map_err(ResultError::Task)
        })?
    }
}

/// Awaiting a [`Future`] from any async runtime. Dropping it never cancels the work.
#[derive(Debug)]
pub struct Awaiting<T> {
    future: Future<T>,
}

impl<T: Clone> std::future::Future for Awaiting<T> {
    type Output = Result<T, ResultError>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.future.lock();
        match (&state.status, &state.outcome) {
            (FutureState::Cancelled, _) => Poll::Ready(Err(ResultError::Cancelled)),
            (FutureState::Finished, Some(outcome)) => {
                Poll::Ready(outcome.clone().map_err(ResultError::Task))
            }
            _ => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<T: Clone> std::future::IntoFuture for Future<T> {
    type Output = Result<T, ResultError>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        Awaiting { future: self }
    }
}

impl<T: Clone> std::future::IntoFuture for &Future<T> {
    type Output = Result<T, ResultError>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        Awaiting {
            future: self.clone(),
        }
    }
}
