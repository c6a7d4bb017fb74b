//! `ThreadPoolExecutor`: tasks run on a pool of threads that start lazily and are reused.
//!
//! As in CPython 3.8+, a submit starts a new thread only when no idle thread is waiting and
//! fewer than `max_workers` exist. A thread counts as idle once it finds the queue empty, and
//! a submit that finds one promises it the job, so two jobs submitted together never share
//! one idle thread while the pool can start another. A failing initializer breaks the pool
//! (`BrokenThreadPool`): every pending future fails and later submits are refused. A task that
//! panics fails its own future only; the thread survives.

use crate::error::{SubmitError, TaskError};
use crate::executor::Executor;
use crate::future::Future;
use crate::pool::{Core, Queued};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

type Initializer = Arc<dyn Fn() -> Result<(), TaskError> + Send + Sync>;

/// A closure a [`ThreadPoolExecutor`] runs. Build one with [`ThreadTask::new`] (a plain
/// value) or [`ThreadTask::fallible`] (an `Err` fails the future).
pub struct ThreadTask<T> {
    run: Box<dyn FnOnce() -> Result<T, TaskError> + Send>,
}

impl<T> std::fmt::Debug for ThreadTask<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadTask(..)")
    }
}

impl<T: 'static> ThreadTask<T> {
    /// A task whose value is what `f` returns; a panic fails the future.
    pub fn new(f: impl FnOnce() -> T + Send + 'static) -> Self {
        ThreadTask {
            run: Box::new(move || Ok(f())),
        }
    }

    /// A task that fails its future when `f` returns `Err`.
    pub fn fallible<E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        ThreadTask {
            run: Box::new(move || f().map_err(TaskError::failed)),
        }
    }

    /// Runs the task here, now (e.g. one handed back by a refused submit).
    pub fn run(self) -> Result<T, TaskError> {
        (self.run)()
    }
}

/// A queued task with its future, type-erased so that one queue carries every `T`.
trait Work: Queued {
    /// Runs the task; calls `about_to_finish` exactly once, just before the future completes,
    /// so the thread counts as idle (when nothing else is queued) by the time anyone sees the
    /// result.
    fn run(self: Box<Self>, about_to_finish: &dyn Fn());
}

struct Item<T> {
    future: Future<T>,
    task: ThreadTask<T>,
}

impl<T: Send + 'static> Work for Item<T> {
    fn run(self: Box<Self>, about_to_finish: &dyn Fn()) {
        if !self.future.set_running_or_notify_cancel() {
            about_to_finish();
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(self.task.run))
            .unwrap_or_else(|payload| Err(TaskError::from_panic(payload)));
        about_to_finish();
        let _ = self.future.complete(outcome);
    }
}

impl<T: Send + 'static> Queued for Item<T> {
    fn fail(self: Box<Self>, error: TaskError) {
        if self.future.set_running_or_notify_cancel() {
            let _ = self.future.set_exception(error);
        }
    }

    fn cancel(self: Box<Self>) {
        self.future.cancel();
    }
}

struct Pool {
    core: Core<dyn Work, ()>,
    thread_name_prefix: String,
    initializer: Option<Initializer>,
}

/// Builds a [`ThreadPoolExecutor`].
#[derive(Default)]
pub struct ThreadPoolBuilder {
    max_workers: Option<usize>,
    thread_name_prefix: Option<String>,
    initializer: Option<Initializer>,
}

impl std::fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("max_workers", &self.max_workers)
            .field("thread_name_prefix", &self.thread_name_prefix)
            .finish_non_exhaustive()
    }
}

/// A `max_workers` of 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("max_workers must be greater than 0")]
pub struct BuildError;

impl ThreadPoolBuilder {
    /// A builder with CPython's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many threads (default `min(32, cpus + 4)`).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// Thread names are `PREFIX_N` (default `ThreadPoolExecutor-K`).
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = Some(prefix.into());
        self
    }

    /// Runs first on every new thread; an `Err` breaks the pool.
    pub fn initializer<E>(mut self, f: impl Fn() -> Result<(), E> + Send + Sync + 'static) -> Self
    where
        E: std::fmt::Display,
    {
        self.initializer = Some(Arc::new(move || {
            f().map_err(|e| {
                TaskError::BrokenThreadPool(format!("A thread initializer failed: {e}"))
            })
        }));
        self
    }

    /// Builds the executor. No thread starts until the first submit.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when `max_workers` is 0.
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        static POOLS: AtomicUsize = AtomicUsize::new(0);
        let max_workers = self
            .max_workers
            .unwrap_or_else(|| 32.min(crate::cpu_count() + 4));
        if max_workers == 0 {
            return Err(BuildError);
        }
        let prefix = self.thread_name_prefix.unwrap_or_else(|| {
            format!(
                "ThreadPoolExecutor-{}",
                POOLS.fetch_add(1, Ordering::Relaxed)
            )
        });
        Ok(ThreadPoolExecutor {
            pool: Arc::new(Pool {
                core: Core::new(max_workers, ()),
                thread_name_prefix: prefix,
                initializer: self.initializer,
            }),
        })
    }
}

/// Runs closures on a pool of threads (PEP 3148's `ThreadPoolExecutor`).
///
/// # Examples
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::builder().max_workers(2).build().unwrap();
/// let future = pool.submit(|| 6 * 7).unwrap();
/// assert_eq!(future.result(None).unwrap(), 42);
/// let squares: Vec<u32> = pool.map(|x: u32| x * x, 1..=4, None).unwrap().map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
pub struct ThreadPoolExecutor {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ThreadPoolExecutor(max_workers={})",
            self.pool.core.max_workers()
        )
    }
}

impl Pool {
    fn worker(self: Arc<Self>) {
        if let Some(initializer) = &self.initializer {
            let outcome = catch_unwind(AssertUnwindSafe(|| initializer())).unwrap_or_else(|p| {
                Err(TaskError::BrokenThreadPool(
                    TaskError::from_panic(p).to_string(),
                ))
            });
            if let Err(error) = outcome {
                self.core.break_pool(&error);
                return;
            }
        }
        // Set when the thread counted itself idle as its last task finished.
        let counted = std::cell::Cell::new(false);
        let become_idle = || counted.set(self.core.idle_if_none_queued());
        // None: the channel is closed, shut down.
        while let Some(item) = self.core.next_job(counted.take()) {
            if let Some(error) = self.core.broken() {
                become_idle();
                item.fail(error);
                continue;
            }
            item.run(&become_idle);
        }
    }
}

impl ThreadPoolExecutor {
    /// A builder for a pool.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// A pool with CPython's default size.
    pub fn new() -> Self {
        ThreadPoolBuilder::new()
            .build()
            .expect("the default max_workers is positive")
    }

    /// The most threads this pool runs.
    pub fn max_workers(&self) -> usize {
        self.pool.core.max_workers()
    }

    /// Runs `f` on the pool; its return value completes the future, a panic fails it.
    ///
    /// # Errors
    ///
    /// As [`Executor::submit`].
    pub fn submit<T, F>(&self, f: F) -> Result<Future<T>, SubmitError<ThreadTask<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        Executor::submit(self, ThreadTask::new(f))
    }

    /// Applies `f` to every item on the pool; results in input order (see [`Executor::map`]).
    ///
    /// # Errors
    ///
    /// As [`Executor::map`].
    pub fn map<A, T, F, I>(
        &self,
        f: F,
        items: I,
        timeout: Option<std::time::Duration>,
    ) -> Result<crate::MapResults<T>, SubmitError<ThreadTask<T>>>
    where
        A: Send + 'static,
        T: Send + Clone + 'static,
        F: Fn(A) -> T + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
    {
        let f = Arc::new(f);
        let tasks = items.into_iter().map(move |item| {
            let f = Arc::clone(&f);
            ThreadTask::new(move || f(item))
        });
        Executor::map(self, tasks, timeout)
    }

    /// Threads started so far.
    pub fn thread_count(&self) -> usize {
        self.pool.core.thread_count()
    }
}

impl Default for ThreadPoolExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor for ThreadPoolExecutor {
    type Task<T: Send + 'static> = ThreadTask<T>;

    fn submit<T: Send + 'static>(
        &self,
        task: ThreadTask<T>,
    ) -> Result<Future<T>, SubmitError<ThreadTask<T>>> {
        let wrap = |task, future| -> Box<dyn Work> { Box::new(Item { future, task }) };
        let spawn = |number| {
            let pool = Arc::clone(&self.pool);
            std::thread::Builder::new()
                .name(format!("{}_{number}", self.pool.thread_name_prefix))
                .spawn(move || pool.worker())
        };
        self.pool
            .core
            .submit(task, wrap, spawn, TaskError::BrokenThreadPool)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.core.shutdown(wait, cancel_futures);
    }
}

impl Drop for ThreadPoolExecutor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}
