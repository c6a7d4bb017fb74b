//! test_future.py
use crate::*;
use concurrent_futures::{FutureState, ResultError};
use std::sync::{Arc, Mutex};

#[test]
fn test_done_callback_with_result() {
    let seen = Arc::new(Mutex::new(None));
    let f = running();
    let s = Arc::clone(&seen);
    f.add_done_callback(move |f| *s.lock().unwrap() = Some(f.result(None).unwrap()));
    f.set_result(5).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(5));
}

#[test]
fn test_done_callback_with_exception() {
    let seen = Arc::new(Mutex::new(String::new()));
    let f = running();
    let s = Arc::clone(&seen);
    f.add_done_callback(move |f| {
        *s.lock().unwrap() = f.exception(None).unwrap().unwrap().to_string()
    });
    f.set_exception(TaskError::failed("test")).unwrap();
    assert_eq!(*seen.lock().unwrap(), "test");
}

#[test]
fn test_done_callback_with_cancel() {
    let was_cancelled = Arc::new(Mutex::new(None));
    let f = pending();
    let w = Arc::clone(&was_cancelled);
    f.add_done_callback(move |f| *w.lock().unwrap() = Some(f.cancelled()));
    assert!(f.cancel());
    assert_eq!(*was_cancelled.lock().unwrap(), Some(true));
}

#[test]
fn test_done_callback_raises() {
    let raising_was_called = Arc::new(Mutex::new(false));
    let fn_was_called = Arc::new(Mutex::new(false));
    let f = running();
    let r = Arc::clone(&raising_was_called);
    f.add_done_callback(move |_| {
        *r.lock().unwrap() = true;
        panic!("doh!");
    });
    let c = Arc::clone(&fn_was_called);
    f.add_done_callback(move |_| *c.lock().unwrap() = true);
    f.set_result(5).unwrap();
    assert!(*raising_was_called.lock().unwrap());
    assert!(*fn_was_called.lock().unwrap());
    // The future is not poisoned by the panicking callback.
    assert_eq!(f.result(None).unwrap(), 5);
}

#[test]
fn test_done_callback_already_successful() {
    let seen = Arc::new(Mutex::new(None));
    let f = successful(5);
    let s = Arc::clone(&seen);
    let caller = std::thread::current().id();
    f.add_done_callback(move |f| {
        assert_eq!(
            std::thread::current().id(),
            caller,
            "runs at once on the caller's thread"
        );
        *s.lock().unwrap() = Some(f.result(None).unwrap());
    });
    assert_eq!(*seen.lock().unwrap(), Some(5));
}

#[test]
fn test_done_callback_already_failed() {
    let seen = Arc::new(Mutex::new(false));
    let s = Arc::clone(&seen);
    exception()
        .add_done_callback(move |f| *s.lock().unwrap() = f.exception(None).unwrap().is_some());
    assert!(*seen.lock().unwrap());
}

#[test]
fn test_done_callback_already_cancelled() {
    let seen = Arc::new(Mutex::new(false));
    let s = Arc::clone(&seen);
    cancelled().add_done_callback(move |f| *s.lock().unwrap() = f.cancelled());
    assert!(*seen.lock().unwrap());
}

#[test]
fn test_done_callback_raises_already_succeeded() {
    let f = successful(5);
    f.add_done_callback(|_| panic!("doh!"));
    assert_eq!(f.result(None).unwrap(), 5);
}

#[test]
fn test_repr() {
    assert!(format!("{:?}", pending()).contains("state=pending"));
    assert!(format!("{:?}", running()).contains("state=running"));
    assert!(format!("{:?}", cancelled()).contains("state=cancelled"));
    assert!(format!("{:?}", exception()).contains("state=finished raised OSError"));
    assert!(format!("{:?}", successful(4)).contains("state=finished"));
}

#[test]
fn test_cancel() {
    let f1 = pending();
    let f2 = running();
    let f3 = cancelled();
    let f4 = exception();
    let f5 = successful(42);
    assert!(f1.cancel());
    assert_eq!(f1.state(), FutureState::Cancelled);
    assert!(!f2.cancel());
    assert_eq!(f2.state(), FutureState::Running);
    assert!(f3.cancel());
    assert!(!f4.cancel());
    assert!(!f5.cancel());
}

#[test]
fn test_cancelled_done_running() {
    assert!(!pending().cancelled() && !pending().done() && !pending().running());
    assert!(!running().cancelled() && !running().done() && running().running());
    assert!(cancelled().cancelled() && cancelled().done() && !cancelled().running());
    assert!(!exception().cancelled() && exception().done() && !exception().running());
    assert!(!successful(1).cancelled() && successful(1).done());
}

#[test]
fn test_result_with_timeout() {
    assert!(matches!(
        pending().result(Some(Duration::ZERO)),
        Err(ResultError::Timeout)
    ));
    assert!(matches!(
        running().result(Some(Duration::ZERO)),
        Err(ResultError::Timeout)
    ));
    assert!(matches!(
        cancelled().result(Some(Duration::ZERO)),
        Err(ResultError::Cancelled)
    ));
    assert!(matches!(
        exception().result(Some(Duration::ZERO)),
        Err(ResultError::Task(_))
    ));
    assert_eq!(successful(42).result(Some(Duration::ZERO)).unwrap(), 42);
}

#[test]
fn test_result_with_success() {
    let f = pending();
    let setter = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(SHORT);
        setter.set_running_or_notify_cancel();
        setter.set_result(42).unwrap();
    });
    assert_eq!(f.result(Some(Duration::from_secs(5))).unwrap(), 42);
    t.join().unwrap();
}

#[test]
fn test_result_with_cancel() {
    let f = pending();
    let canceller = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(SHORT);
        canceller.cancel();
    });
    assert!(matches!(
        f.result(Some(Duration::from_secs(5))),
        Err(ResultError::Cancelled)
    ));
    t.join().unwrap();
}

#[test]
fn test_exception_with_timeout_and_success() {
    assert!(matches!(
        pending().exception(Some(Duration::ZERO)),
        Err(ResultError::Timeout)
    ));
    assert!(matches!(
        cancelled().exception(Some(Duration::ZERO)),
        Err(ResultError::Cancelled)
    ));
    assert!(
        exception()
            .exception(Some(Duration::ZERO))
            .unwrap()
            .is_some()
    );
    assert!(
        successful(1)
            .exception(Some(Duration::ZERO))
            .unwrap()
            .is_none()
    );
    let f = pending();
    let setter = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(SHORT);
        setter.set_running_or_notify_cancel();
        setter.set_exception(TaskError::failed("OSError")).unwrap();
    });
    assert_eq!(
        f.exception(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap()
            .to_string(),
        "OSError"
    );
    t.join().unwrap();
}

#[test]
fn test_multiple_set_result() {
    let f = running();
    f.set_result(1).unwrap();
    assert!(f.set_result(2).is_err());
    assert!(f.set_exception(TaskError::failed("x")).is_err());
    assert_eq!(f.result(None).unwrap(), 1);
}

#[test]
fn test_multiple_set_exception() {
    let f = running();
    f.set_exception(TaskError::failed("first")).unwrap();
    assert!(f.set_exception(TaskError::failed("second")).is_err());
    assert!(f.set_result(2).is_err());
    assert_eq!(f.exception(None).unwrap().unwrap().to_string(), "first");
}

#[test]
fn result_can_be_read_many_times_and_from_many_threads() {
    let f = successful(7);
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || f.result(None).unwrap())
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join().unwrap(), 7);
    }
}

/// A minimal executor for `async`: polls on this thread, parks until woken.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn awaiting_a_future_and_dropping_an_awaiter_does_not_cancel() {
    let f = pending();
    let setter = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(SHORT);
        setter.set_running_or_notify_cancel();
        setter.set_result(9).unwrap();
    });
    // An awaiter dropped before completion leaves the future alone.
    drop(std::future::IntoFuture::into_future(&f));
    assert_eq!(block_on(async { f.clone().await }).unwrap(), 9);
    t.join().unwrap();
    assert!(matches!(
        block_on(async { cancelled().await }),
        Err(ResultError::Cancelled)
    ));
}
