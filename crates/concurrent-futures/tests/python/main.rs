//! Tests ported from CPython 3.13's `Lib/test/test_concurrent_futures/` (test_future.py,
//! test_wait.py, test_as_completed.py, test_thread_pool.py, test_shutdown.py, test_init.py)
//! and rewritten in Rust. Names follow the Python test they port. The process-pool tests live
//! in `tests/process_pool.rs`, which needs its own `main`.

mod as_completed;
mod future;
mod shutdown;
mod stress;
mod thread_pool;
mod wait;

use concurrent_futures::{Future, TaskError};
use std::time::Duration;

pub(crate) const SHORT: Duration = Duration::from_millis(50);

pub(crate) fn pending() -> Future<i32> {
    Future::new()
}

pub(crate) fn running() -> Future<i32> {
    let f = Future::new();
    assert!(f.set_running_or_notify_cancel());
    f
}

pub(crate) fn cancelled() -> Future<i32> {
    let f = Future::new();
    assert!(f.cancel());
    f
}

pub(crate) fn successful(value: i32) -> Future<i32> {
    let f = running();
    f.set_result(value).unwrap();
    f
}

pub(crate) fn exception() -> Future<i32> {
    let f = running();
    f.set_exception(TaskError::failed("OSError")).unwrap();
    f
}
