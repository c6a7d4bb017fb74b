//! The `Executor` trait: what thread and process pools have in common.

use crate::error::{ResultError, SubmitError};
use crate::future::Future;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Runs tasks asynchronously and hands back [`Future`]s (PEP 3148's `Executor`).
///
/// A task is whatever the executor can run: a closure for [`crate::ThreadPoolExecutor`], a
/// call of a registered function for [`crate::ProcessPoolExecutor`].
pub trait Executor {
    /// One task producing a `T`.
    type Task<T: Send + 'static>: Send + 'static;

    /// Schedules `task` and returns its future.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] after shutdown, [`SubmitError::Broken`] when the executor is
    /// broken; both hand the task back.
    fn submit<T: Send + 'static>(
        &self,
        task: Self::Task<T>,
    ) -> Result<Future<T>, SubmitError<Self::Task<T>>>;

    /// Stops accepting tasks. With `cancel_futures`, pending tasks are cancelled; with `wait`,
    /// returns once running tasks are finished and resources freed. Dropping an executor is
    /// `shutdown(true, false)`.
    fn shutdown(&self, wait: bool, cancel_futures: bool);

    /// Submits every task at once and yields their results in input order; `timeout` counts
    /// from this call. Dropping the iterator cancels what has not started.
    ///
    /// # Errors
    ///
    /// As [`Executor::submit`], for the first task refused (those already submitted are
    /// cancelled).
    fn map<T, I>(
        &self,
        tasks: I,
        timeout: Option<Duration>,
    ) -> Result<MapResults<T>, SubmitError<Self::Task<T>>>
    where
        T: Send + Clone + 'static,
        I: IntoIterator<Item = Self::Task<T>>,
        Self: Sized,
    {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut futures = VecDeque::new();
        for task in tasks {
            match self.submit(task) {
                Ok(future) => futures.push_back(future),
                Err(error) => {
                    for future in &futures {
                        future.cancel();
                    }
                    return Err(error);
                }
            }
        }
        Ok(MapResults { futures, deadline })
    }
}

/// The results of [`Executor::map`], in input order.
#[derive(Debug)]
pub struct MapResults<T> {
    futures: VecDeque<Future<T>>,
    deadline: Option<Instant>,
}

impl<T: Clone> Iterator for MapResults<T> {
    type Item = Result<T, ResultError>;

    fn next(&mut self) -> Option<Self::Item> {
        let future = self.futures.pop_front()?;
        let timeout = self
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        let result = future.result(timeout);
        if matches!(result, Err(ResultError::Timeout)) {
            // Python raises TimeoutError and the generator is finished: cancel the rest.
            future.cancel();
            for rest in self.futures.drain(..) {
                rest.cancel();
            }
        }
        Some(result)
    }
}

impl<T> Drop for MapResults<T> {
    fn drop(&mut self) {
        for future in &self.futures {
            future.cancel();
        }
    }
}
