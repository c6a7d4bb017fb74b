use super::*;

use crate::interpreter::{DiscoveryOptions, default_interpreter};

#[test]
fn a_panic_while_holding_a_worker_frees_its_slot() {
    let interpreter = default_interpreter(&DiscoveryOptions::from_env()).expect("python3");
    let pools = Pools::new(
        1,
        Duration::from_secs(60),
        Arc::new(AtomicBool::new(false)),
        false,
    );
    let (pools, interpreter) = (&pools, &interpreter);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _lease = pools.acquire(0, interpreter).unwrap();
        panic!("a bug in a compile task");
    }));
    assert!(panicked.is_err());
    // With one slot, this waits for ever unless the panic gave the slot back.
    std::thread::scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let lease = pools.acquire(0, interpreter);
            done.send(lease.is_ok()).unwrap();
            if let Ok(lease) = lease {
                lease.release();
            }
        });
        assert_eq!(finished.recv_timeout(Duration::from_secs(30)), Ok(true));
    });
    pools.close_all();
}

#[test]
fn waiting_for_a_worker_ends_when_the_run_is_cancelled() {
    let interpreter = default_interpreter(&DiscoveryOptions::from_env()).expect("python3");
    let cancel = Arc::new(AtomicBool::new(false));
    let pools = Pools::new(1, Duration::from_secs(60), Arc::clone(&cancel), false);
    let (pools, interpreter) = (&pools, &interpreter);
    let held = pools.acquire(0, interpreter).unwrap();
    std::thread::scope(|scope| {
        let (done, finished) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let waited = pools.acquire(0, interpreter).map(|_| ());
            done.send(waited).unwrap();
        });
        std::thread::sleep(Duration::from_millis(100));
        cancel.store(true, Ordering::SeqCst);
        assert_eq!(
            finished.recv_timeout(Duration::from_secs(5)).unwrap().err(),
            Some(WorkerError::Interrupted)
        );
    });
    held.discard();
}
