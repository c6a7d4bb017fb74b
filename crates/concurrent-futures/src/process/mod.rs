//! `ProcessPoolExecutor`: tasks run in worker processes that re-execute the current binary.
//!
//! Each worker process is driven by one thread of the pool, which writes a request frame to the
//! child's stdin and reads the response from its stdout (one task in flight per worker). When a
//! worker dies (killed, aborted, `panic = "abort"`), the thread that was talking to it sees the
//! end of the pipe at once: the pool becomes broken, the future it held and every queued one
//! fail with `BrokenProcessPool`, the other workers are killed, and every child is reaped. No
//! path leaves a zombie or a future that never completes.

mod frame;
mod registry;

pub use registry::{Registered, TaskFn, init};

use crate::error::{SubmitError, TaskError};
use crate::executor::Executor;
use crate::future::Future;
use crate::pool::{Core, Queued, Workers};
use frame::{read_frame, write_frame};
use registry::{STATUS_OK, STATUS_PANIC, WORKER_ENV, encode_request};
use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

type Decode<T> = fn(&[u8]) -> Result<T, String>;

/// One call of a registered function, ready to submit (made by [`TaskFn::call`]).
pub struct ProcessTask<T> {
    name: &'static str,
    args: Result<Vec<u8>, String>,
    decode: Decode<T>,
}

impl<T> std::fmt::Debug for ProcessTask<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProcessTask({})", self.name)
    }
}

impl<T> ProcessTask<T> {
    fn new(name: &'static str, args: serde_json::Result<Vec<u8>>, decode: Decode<T>) -> Self {
        ProcessTask {
            name,
            args: args.map_err(|e| e.to_string()),
            decode,
        }
    }

    /// The registered function's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A queued call with its future, type-erased so one queue carries every result type.
trait Job: Queued {
    fn start(&self) -> bool;
    fn request(&self) -> Result<Vec<u8>, String>;
    fn finish(self: Box<Self>, status: u8, payload: &[u8]);
}

struct Item<T> {
    future: Future<T>,
    task: ProcessTask<T>,
}

impl<T: Send + 'static> Job for Item<T> {
    fn start(&self) -> bool {
        self.future.set_running_or_notify_cancel()
    }

    fn request(&self) -> Result<Vec<u8>, String> {
        self.task
            .args
            .as_ref()
            .map(|args| encode_request(self.task.name, args))
            .map_err(|e| format!("cannot encode the arguments of {}: {e}", self.task.name))
    }

    fn finish(self: Box<Self>, status: u8, payload: &[u8]) {
        let outcome = match status {
            STATUS_OK => (self.task.decode)(payload).map_err(TaskError::failed),
            STATUS_PANIC => Err(TaskError::Panicked(
                String::from_utf8_lossy(payload)
                    .trim_start_matches("task panicked: ")
                    .to_owned(),
            )),
            _ => Err(TaskError::failed(
                String::from_utf8_lossy(payload).into_owned(),
            )),
        };
        let _ = self.future.complete(outcome);
    }
}

impl<T: Send + 'static> Queued for Item<T> {
    fn fail(self: Box<Self>, error: TaskError) {
        // A running future is failed; a pending one is first moved to running.
        if self.future.running() || self.future.set_running_or_notify_cancel() {
            let _ = self.future.set_exception(error);
        }
    }

    fn cancel(self: Box<Self>) {
        self.future.cancel();
    }
}

/// Live children by worker number, so a broken pool can kill them all.
#[derive(Default)]
struct Children(HashMap<usize, Child>);

impl Workers for Children {
    fn kill_all(&mut self) {
        for child in self.0.values_mut() {
            let _ = child.kill();
        }
    }
}

struct Pool {
    core: Core<dyn Job, Children>,
    max_tasks_per_child: Option<usize>,
    initializer: Option<&'static (dyn Registered + 'static)>,
    program: PathBuf,
}

const DIED: &str = "A process in the process pool was terminated abruptly while the future was running or pending.";

/// Builds a [`ProcessPoolExecutor`].
#[derive(Debug, Default)]
pub struct ProcessPoolBuilder {
    max_workers: Option<usize>,
    max_tasks_per_child: Option<usize>,
    initializer: Option<&'static TaskFn<(), ()>>,
    program: Option<PathBuf>,
}

/// Why a process pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProcessPoolBuildError {
    /// `max_workers` or `max_tasks_per_child` of 0.
    #[error("{0} must be greater than 0")]
    Zero(&'static str),
    /// The current executable could not be found.
    #[error("cannot find the current executable: {0}")]
    CurrentExe(std::io::Error),
}

impl ProcessPoolBuilder {
    /// A builder with CPython's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many worker processes (default: the number of CPUs).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// Replace a worker process after it has run `n` tasks.
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n);
        self
    }

    /// Run this registered function first in every worker; a failure breaks the pool.
    pub fn initializer(mut self, f: &'static TaskFn<(), ()>) -> Self {
        self.initializer = Some(f);
        self
    }

    /// The executable workers run (default: the current one). It must call [`init`] first.
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// Builds the pool. No process starts until the first submit.
    ///
    /// # Errors
    ///
    /// [`ProcessPoolBuildError`].
    pub fn build(self) -> Result<ProcessPoolExecutor, ProcessPoolBuildError> {
        let max_workers = self.max_workers.unwrap_or_else(crate::cpu_count);
        if max_workers == 0 {
            return Err(ProcessPoolBuildError::Zero("max_workers"));
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(ProcessPoolBuildError::Zero("max_tasks_per_child"));
        }
        let program = match self.program {
            Some(program) => program,
            None => std::env::current_exe().map_err(ProcessPoolBuildError::CurrentExe)?,
        };
        Ok(ProcessPoolExecutor {
            pool: Arc::new(Pool {
                core: Core::new(max_workers, Children::default()),
                max_tasks_per_child: self.max_tasks_per_child,
                initializer: self.initializer.map(|f| f as &'static dyn Registered),
                program,
            }),
        })
    }
}

/// Runs registered functions in worker processes (PEP 3148's `ProcessPoolExecutor`).
///
/// The program must call [`init`] first thing in `main`:
///
/// ```no_run
/// use concurrent_futures::{init, ProcessPoolExecutor, TaskFn, Executor};
/// fn square(x: u64) -> u64 { x * x }
/// static SQUARE: TaskFn<u64, u64> = TaskFn::new("square", square);
///
/// fn main() {
///     init(&[&SQUARE]);
///     let pool = ProcessPoolExecutor::builder().max_workers(2).build().unwrap();
///     let future = pool.submit(SQUARE.call(7)).unwrap();
///     assert_eq!(future.result(None).unwrap(), 49);
/// }
/// ```
pub struct ProcessPoolExecutor {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProcessPoolExecutor(max_workers={})",
            self.pool.core.max_workers()
        )
    }
}

/// The pipes of one live worker process.
struct Worker {
    number: usize,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    tasks: usize,
}

impl Pool {
    fn spawn_child(&self, number: usize) -> Result<Worker, TaskError> {
        let mut child = Command::new(&self.program)
            .env(WORKER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                TaskError::BrokenProcessPool(format!("cannot start a worker process: {e}"))
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut state = self.core.lock();
        if let Some(error) = state.broken() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(error.clone());
        }
        state.extra.0.insert(number, child);
        drop(state);
        let mut worker = Worker {
            number,
            stdin: BufWriter::new(stdin),
            stdout: BufReader::new(stdout),
            tasks: 0,
        };
        if let Some(initializer) = self.initializer {
            let request = encode_request(initializer.registered_name(), b"null");
            match self.exchange(&mut worker, &request) {
                Ok((STATUS_OK, _)) => {}
                Ok((_, message)) => {
                    let why = format!(
                        "A process in the process pool failed its initializer: {}",
                        String::from_utf8_lossy(&message)
                    );
                    self.reap(worker);
                    return Err(TaskError::BrokenProcessPool(why));
                }
                Err(_) => {
                    self.reap(worker);
                    return Err(TaskError::BrokenProcessPool(DIED.to_owned()));
                }
            }
        }
        Ok(worker)
    }

    fn exchange(&self, worker: &mut Worker, request: &[u8]) -> std::io::Result<(u8, Vec<u8>)> {
        write_frame(&mut worker.stdin, &[request])?;
        let frame = read_frame(&mut worker.stdout)?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        let (status, payload) = frame
            .split_first()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
        Ok((*status, payload.to_vec()))
    }

    /// Closes the worker's stdin (it exits at end of input) and waits for it.
    fn reap(&self, worker: Worker) {
        let Worker {
            number,
            stdin,
            stdout,
            ..
        } = worker;
        drop(stdin);
        drop(stdout);
        let child = self.core.lock().extra.0.remove(&number);
        if let Some(mut child) = child {
            let _ = child.wait();
        }
    }

    fn run_worker(self: Arc<Self>, number: usize) {
        let mut worker: Option<Worker> = None;
        loop {
            let Some(job) = self.core.next_job(false) else {
                break;
            };
            if let Some(error) = self.core.broken() {
                job.fail(error);
                continue;
            }
            if !job.start() {
                continue;
            }
            let request = match job.request() {
                Ok(request) => request,
                Err(message) => {
                    job.fail(TaskError::failed(message));
                    continue;
                }
            };
            let current = match worker.take() {
                Some(current) => current,
                None => match self.spawn_child(number) {
                    Ok(spawned) => spawned,
                    Err(error) => {
                        job.fail(error.clone());
                        self.core.break_pool(&error);
                        break;
                    }
                },
            };
            let mut current = current;
            match self.exchange(&mut current, &request) {
                Ok((status, payload)) => {
                    job.finish(status, &payload);
                    current.tasks += 1;
                    if self
                        .max_tasks_per_child
                        .is_some_and(|max| current.tasks >= max)
                    {
                        self.reap(current);
                    } else {
                        worker = Some(current);
                    }
                }
                Err(_) => {
                    let error = TaskError::BrokenProcessPool(DIED.to_owned());
                    job.fail(error.clone());
                    self.core.break_pool(&error);
                    self.reap(current);
                    break;
                }
            }
        }
        if let Some(current) = worker {
            self.reap(current);
        }
        // A broken pool: fail whatever else is queued, so nothing waits forever.
        if let Some(error) = self.core.broken() {
            self.core.fail_queued(&error);
        }
    }
}

impl ProcessPoolExecutor {
    /// A builder for a pool.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::new()
    }

    /// The most worker processes this pool runs.
    pub fn max_workers(&self) -> usize {
        self.pool.core.max_workers()
    }

    /// Process ids of the live worker processes.
    pub fn worker_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .pool
            .core
            .lock()
            .extra
            .0
            .values()
            .map(Child::id)
            .collect();
        pids.sort_unstable();
        pids
    }
}

impl Executor for ProcessPoolExecutor {
    type Task<T: Send + 'static> = ProcessTask<T>;

    fn submit<T: Send + 'static>(
        &self,
        task: ProcessTask<T>,
    ) -> Result<Future<T>, SubmitError<ProcessTask<T>>> {
        let wrap = |task, future| -> Box<dyn Job> { Box::new(Item { future, task }) };
        let spawn = |number| {
            let pool = Arc::clone(&self.pool);
            std::thread::Builder::new()
                .name(format!("process-pool-worker-{number}"))
                .spawn(move || pool.run_worker(number))
        };
        self.pool
            .core
            .submit(task, wrap, spawn, TaskError::BrokenProcessPool)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.core.shutdown(wait, cancel_futures);
    }
}

impl Drop for ProcessPoolExecutor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}
