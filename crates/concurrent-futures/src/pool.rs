//! What the thread and the process pool share: the queue of submitted work, the threads that
//! take from it, and the submit and shutdown bookkeeping (CPython's `_adjust_thread_count`,
//! `_initializer_failed` and `shutdown`, common to `thread.py` and `process.py`).
//!
//! A pool keeps its own per-worker resources in [`Core`]'s `extra` (the process pool's live
//! children), under the same lock, and says through [`Workers::kill_all`] what breaking the
//! pool does to them. This module never runs a task: it only queues, fails and cancels them.

use crate::error::{SubmitError, TaskError};
use crate::future::Future;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

/// A queued task with its future, type-erased so that one queue carries every result type.
pub(crate) trait Queued: Send {
    /// Fails the future without running the task (a broken pool).
    fn fail(self: Box<Self>, error: TaskError);
    /// Cancels the future (`shutdown(cancel_futures=True)`).
    fn cancel(self: Box<Self>);
}

/// A pool's own per-worker resources, kept under the pool's lock.
pub(crate) trait Workers: Send {
    /// The pool is broken: stop every worker now.
    fn kill_all(&mut self) {}
}

impl Workers for () {}

/// The pool's mutable state, behind [`Core::lock`].
pub(crate) struct State<J: ?Sized, X> {
    shutdown: bool,
    broken: Option<TaskError>,
    threads: Vec<JoinHandle<()>>,
    sender: Option<Sender<Box<J>>>,
    /// The pool's own resources (see [`Workers`]).
    pub(crate) extra: X,
}

impl<J: ?Sized, X> State<J, X> {
    /// Why the pool is broken, if it is.
    pub(crate) fn broken(&self) -> Option<&TaskError> {
        self.broken.as_ref()
    }
}

/// The queue, its threads and their bookkeeping.
pub(crate) struct Core<J: ?Sized, X> {
    state: Mutex<State<J, X>>,
    receiver: Receiver<Box<J>>,
    idle: AtomicUsize,
    max_workers: usize,
}

impl<J: Queued + ?Sized, X: Workers> Core<J, X> {
    /// An empty pool of at most `max_workers` threads; none starts until a submit.
    pub(crate) fn new(max_workers: usize, extra: X) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Core {
            state: Mutex::new(State {
                shutdown: false,
                broken: None,
                threads: Vec::new(),
                sender: Some(sender),
                extra,
            }),
            receiver,
            idle: AtomicUsize::new(0),
            max_workers,
        }
    }

    /// The most threads the pool runs.
    pub(crate) fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// The state; a panic elsewhere while holding it does not make it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<J, X>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Threads started so far.
    pub(crate) fn thread_count(&self) -> usize {
        self.lock().threads.len()
    }

    /// Why the pool is broken, if it is.
    pub(crate) fn broken(&self) -> Option<TaskError> {
        self.lock().broken.clone()
    }

    /// Starts a thread with `spawn(number)` when none is idle and fewer than `max_workers`
    /// exist, and queues the job `wrap` makes of `task` and its new future. A pool that
    /// cannot start its first thread is broken (`broken_error` words it), and `task` is
    /// handed back.
    ///
    /// # Errors
    ///
    /// The task handed back, when the pool is broken (now or before) or shut down.
    pub(crate) fn submit<T, Task>(
        &self,
        task: Task,
        wrap: impl FnOnce(Task, Future<T>) -> Box<J>,
        spawn: impl FnOnce(usize) -> std::io::Result<JoinHandle<()>>,
        broken_error: fn(String) -> TaskError,
    ) -> Result<Future<T>, SubmitError<Task>> {
        let mut state = self.lock();
        if let Some(error) = &state.broken {
            return Err(SubmitError::Broken(task, error.clone()));
        }
        if state.shutdown {
            return Err(SubmitError::Shutdown(task));
        }
        // A thread first, then the job: a pool that cannot start its first thread hands the
        // task back (Python's `submit` raises), and never queues a job nothing would run.
        if self.idle.load(Ordering::SeqCst) == 0 && state.threads.len() < self.max_workers {
            match spawn(state.threads.len()) {
                Ok(handle) => state.threads.push(handle),
                Err(error) if state.threads.is_empty() => {
                    let error = broken_error(format!("cannot start a thread: {error}"));
                    drop(state);
                    self.break_pool(&error);
                    return Err(SubmitError::Broken(task, error));
                }
                Err(_) => {} // the threads already running will take the work
            }
        }
        let future = Future::new();
        let sender = state
            .sender
            .as_ref()
            .expect("a pool that is not shut down has a queue");
        sender
            .send(wrap(task, future.clone()))
            .expect("the pool holds its own receiver");
        Ok(future)
    }

    /// Counts the calling thread as idle until its next [`Core::next_job`] returns.
    pub(crate) fn become_idle(&self) {
        self.idle.fetch_add(1, Ordering::SeqCst);
    }

    /// The next job, waiting for one; `None` once the pool is shut down and the queue empty.
    /// The caller was idle ([`Core::become_idle`]) and no longer is.
    pub(crate) fn next_job(&self) -> Option<Box<J>> {
        let job = self.receiver.recv();
        self.idle.fetch_sub(1, Ordering::SeqCst);
        job.ok()
    }

    /// Marks the pool broken (the first error stays), stops the workers and fails everything
    /// queued (`_initializer_failed`, `_ExecutorManagerThread.terminate_broken`).
    pub(crate) fn break_pool(&self, error: &TaskError) {
        let mut state = self.lock();
        if state.broken.is_none() {
            state.broken = Some(error.clone());
        }
        state.extra.kill_all();
        drop(state);
        self.fail_queued(error);
    }

    /// Fails every job still queued.
    pub(crate) fn fail_queued(&self, error: &TaskError) {
        while let Ok(job) = self.receiver.try_recv() {
            job.fail(error.clone());
        }
    }

    /// Stops accepting work; see [`crate::Executor::shutdown`].
    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        let mut state = self.lock();
        state.shutdown = true;
        if cancel_futures {
            while let Ok(job) = self.receiver.try_recv() {
                job.cancel();
            }
        }
        // Closing the channel lets idle threads finish once the queue is empty.
        state.sender = None;
        let threads = if wait {
            std::mem::take(&mut state.threads)
        } else {
            Vec::new()
        };
        drop(state);
        for thread in threads {
            let _ = thread.join();
        }
    }
}
