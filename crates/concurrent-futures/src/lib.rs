//! PEP 3148's `concurrent.futures` for Rust: [`Future`], [`ThreadPoolExecutor`],
//! [`ProcessPoolExecutor`], [`wait`] and [`as_completed`], with Python's names, states and
//! guarantees in idiomatic Rust.
//!
//! ```
//! use concurrent_futures::{as_completed, ThreadPoolExecutor};
//!
//! let pool = ThreadPoolExecutor::builder().max_workers(4).build().unwrap();
//! let futures: Vec<_> = (1..=5u64).map(|n| pool.submit(move || n * n).unwrap()).collect();
//! let mut total = 0;
//! for done in as_completed(futures, None) {
//!     total += done.unwrap().result(None).unwrap();
//! }
//! assert_eq!(total, 55);
//! ```
//!
//! A task's failure is its exception: a task that returns `Err` or panics completes its future
//! with a [`TaskError`], and never takes the pool down. The crate knows nothing of Python; the
//! `pycache` compile engine is one of its users.
#![deny(missing_docs)]

mod error;
mod executor;
mod future;
mod pool;
mod process;
mod thread;
mod waiter;

pub use error::{AsCompletedTimeout, ResultError, SubmitError, TaskError};
pub use executor::{Executor, MapResults};
pub use future::{Awaiting, Future, FutureState, InvalidStateError};
pub use process::{
    ProcessPoolBuildError, ProcessPoolBuilder, ProcessPoolExecutor, ProcessTask, Registered,
    TaskFn, init,
};
pub use thread::{BuildError, ThreadPoolBuilder, ThreadPoolExecutor, ThreadTask};
pub use waiter::{AsCompleted, ReturnWhen, as_completed, wait};

/// The number of CPUs this process may use.
pub(crate) fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Reports a panicking done-callback on stderr, as Python logs "exception calling callback".
#[allow(clippy::print_stderr)]
pub(crate) fn report_callback_panic(future: &str, error: TaskError) {
    eprintln!("exception calling callback for {future}: {error}");
}
