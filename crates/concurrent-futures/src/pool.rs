//! What the thread and the process pool share: the queue of submitted work, the threads that
//! take from it, and the submit and shutdown bookkeeping (CPython's `_adjust_thread_count`,
//! `_initializer_failed` and `shutdown`, common to `thread.py` and `process.py`).
//!
//! A pool keeps its own per-worker resources in [`Core`]'s `extra` (the process pool's live
//! children), under the same lock, and says through [`Workers::kill_all`] what breaking the
//! pool does to them. This module never runs a task: it only queues, fails and cancels them.

use crate::error::{SubmitError, TaskError};
use crate::future::Future;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

thread_local! {
    /// The pool (its [`Core`]'s address) in which this thread counted itself idle and has not
    /// taken a job since: set while a pool thread runs its finished task's done callbacks.
    static COUNTED_IN: Cell<usize> = const { Cell::new(0) };
}

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
    /// Threads that found the queue empty and have committed to taking the next job, which
    /// no submit has promised them yet (CPython's `_idle_semaphore`): a submit takes one
    /// instead of starting a thread. A thread counted as its task finishes may still be
    /// completing that task's future (and running its done callbacks).
    idle: usize,
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
                idle: 0,
                sender: Some(sender),
                extra,
            }),
            receiver,
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

    /// Promises the job to an idle thread when one is counted; otherwise starts a thread with
    /// `spawn(number)` when fewer than `max_workers` exist (when that fails and threads exist,
    /// they take the job in turn); then queues the job `wrap` makes of `task` and its new
    /// future. A pool that cannot start its first thread is broken (`broken_error` words it),
    /// and `task` is handed back.
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
        // A pool thread submitting from a done callback counted itself idle already: that
        // count cannot take this job (the thread may wait for it), so it needs another.
        if state.idle > usize::from(self.counted_here()) {
            state.idle -= 1;
        } else if state.threads.len() < self.max_workers {
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

    /// Counts the calling thread as idle when no job is queued (CPython's worker releasing
    /// `_idle_semaphore` when `get_nowait` finds nothing): the next submit then starts no
    /// thread, since a counted thread will take its job (this one; or this one takes another
    /// and stays uncounted, which only lets a later submit start a thread). Checked under the
    /// lock that submits queue under, so that a job queued meanwhile is never promised to a
    /// thread about to take an earlier one. True when counted.
    pub(crate) fn idle_if_none_queued(&self) -> bool {
        let mut state = self.lock();
        if !self.receiver.is_empty() {
            return false;
        }
        state.idle += 1;
        COUNTED_IN.set(self.address());
        true
    }

    /// The next job: one already queued, else (counting the caller idle unless `counted`
    /// says [`Core::idle_if_none_queued`] already did) the next one submitted. `None` once
    /// the pool is shut down and the queue empty.
    pub(crate) fn next_job(&self, counted: bool) -> Option<Box<J>> {
        let job = self.take_job(counted);
        COUNTED_IN.set(0);
        job
    }

    fn take_job(&self, counted: bool) -> Option<Box<J>> {
        if !counted {
            loop {
                match self.receiver.try_recv() {
                    Ok(job) => return Some(job),
                    Err(TryRecvError::Disconnected) => return None,
                    Err(TryRecvError::Empty) if self.idle_if_none_queued() => break,
                    Err(TryRecvError::Empty) => {}
                }
            }
        }
        self.receiver.recv().ok()
    }

    /// Whether the calling thread is one of this pool's that counted itself idle and still
    /// runs (its last task's done callbacks): a job it submits must not be promised to it.
    fn counted_here(&self) -> bool {
        COUNTED_IN.get() == self.address()
    }

    fn address(&self) -> usize {
        std::ptr::from_ref(self).cast::<()>() as usize
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
