//! The errors of futures and executors, mirroring Python's `CancelledError`, `TimeoutError`,
//! `BrokenThreadPool` and `BrokenProcessPool`, and the task's own exception.

use std::fmt;
use std::sync::Arc;

/// Why a task failed: its "exception". Cheap to clone, so a future's result can be read any
/// number of times.
#[derive(Clone)]
pub enum TaskError {
    /// The task returned an error.
    Failed(Arc<dyn std::error::Error + Send + Sync>),
    /// The task panicked; the panic message is kept.
    Panicked(String),
    /// The thread pool is broken: a worker's initializer failed.
    BrokenThreadPool(String),
    /// The process pool is broken: a worker process died or its initializer failed.
    BrokenProcessPool(String),
}

impl TaskError {
    /// A task error from any error value.
    pub fn failed(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        TaskError::Failed(Arc::from(error.into()))
    }

    /// The message of a panic payload, as `std` prints it.
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        TaskError::Panicked(message)
    }

    /// True for the two broken-executor errors.
    pub fn is_broken_executor(&self) -> bool {
        matches!(
            self,
            TaskError::BrokenThreadPool(_) | TaskError::BrokenProcessPool(_)
        )
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(error) => write!(f, "{error}"),
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
            TaskError::BrokenThreadPool(why) => write!(f, "BrokenThreadPool: {why}"),
            TaskError::BrokenProcessPool(why) => write!(f, "BrokenProcessPool: {why}"),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Failed(error) => Some(&**error),
            _ => None,
        }
    }
}

/// Why `Future::result` gave no value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResultError {
    /// The future was cancelled (`CancelledError`).
    #[error("the future was cancelled")]
    Cancelled,
    /// The timeout passed first (`TimeoutError`); the work goes on.
    #[error("timed out waiting for the future")]
    Timeout,
    /// The task failed; this is its exception.
    #[error(transparent)]
    Task(#[from] TaskError),
}

/// `submit` was refused; the task is handed back unrun.
#[derive(thiserror::Error)]
pub enum SubmitError<T> {
    /// The executor was shut down (`RuntimeError: cannot schedule new futures after shutdown`).
    #[error("cannot schedule new futures after shutdown")]
    Shutdown(T),
    /// The executor is broken; the reason says why.
    #[error("{1}")]
    Broken(T, TaskError),
}

impl<T> SubmitError<T> {
    /// The task that was not scheduled.
    pub fn into_task(self) -> T {
        match self {
            SubmitError::Shutdown(task) | SubmitError::Broken(task, _) => task,
        }
    }
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Shutdown(_) => f.write_str("Shutdown(..)"),
            SubmitError::Broken(_, why) => write!(f, "Broken(.., {why:?})"),
        }
    }
}

/// `as_completed` ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{unfinished} (of {total}) futures unfinished")]
pub struct AsCompletedTimeout {
    /// Futures not yet finished.
    pub unfinished: usize,
    /// Futures given.
    pub total: usize,
}
