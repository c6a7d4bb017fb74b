//! The live worker processes of a run, shared by every interpreter: at most `cap` of them.
//!
//! A worker is lent out as a [`Lease`], which gives its slot back however the borrower ends
//! (a panic included): dropping a lease that was not returned kills and reaps the worker. When
//! the system refuses a new process (`ulimit -u`), the run goes on with the workers it has and
//! tries again later. Once the run is cancelled, nothing new starts and waiting stops.

use super::worker::{Worker, WorkerError};
use crate::interpreter::Interpreter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a thread waits for a worker before looking at the cancel flag again.
const WAIT_SLICE: Duration = Duration::from_millis(50);
/// Attempts at starting a worker while the system has no process to spare and no other worker
/// is alive to wait for, and the pause between them.
const NO_RESOURCES_ATTEMPTS: u32 = 8;
const NO_RESOURCES_PAUSE: Duration = Duration::from_millis(250);

pub(crate) struct Pools {
    state: Mutex<PoolsState>,
    /// Signalled when a worker is released or discarded.
    freed: Condvar,
    startup_timeout: Duration,
    cancel: Arc<AtomicBool>,
    /// Workers for `--reproducible` (see [`Worker::start`]).
    reproducible: bool,
}

struct PoolsState {
    idle: Vec<(usize, Worker)>,
    live: usize,
    /// The most workers at once: `-j`, lowered when the system refuses processes.
    cap: usize,
    /// Set when the system refused every attempt while no worker was alive: later jobs fail
    /// at once instead of trying again.
    exhausted: Option<String>,
}

/// A worker lent to one job; see the module docs.
pub(crate) struct Lease<'a> {
    pools: &'a Pools,
    target: usize,
    worker: Option<Worker>,
}

impl Lease<'_> {
    pub(crate) fn worker(&mut self) -> &mut Worker {
        self.worker
            .as_mut()
            .expect("a lease holds its worker until it ends")
    }

    /// Gives the worker back for the next job.
    pub(crate) fn release(mut self) {
        if let Some(worker) = self.worker.take() {
            self.pools.lock().idle.push((self.target, worker));
            self.pools.freed.notify_one();
        }
    }

    /// Kills the worker (hung, dead or interrupted) and frees its slot.
    pub(crate) fn discard(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.kill();
            self.pools.free_slot();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.kill();
            self.pools.free_slot();
        }
    }
}

/// Frees a counted slot unless disarmed (a start that panics or fails).
struct Slot<'a>(Option<&'a Pools>);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(pools) = self.0.take() {
            pools.free_slot();
        }
    }
}

impl Pools {
    pub(crate) fn new(
        cap: usize,
        startup_timeout: Duration,
        cancel: Arc<AtomicBool>,
        reproducible: bool,
    ) -> Self {
        Pools {
            state: Mutex::new(PoolsState {
                idle: Vec::new(),
                live: 0,
                cap: cap.max(1),
                exhausted: None,
            }),
            freed: Condvar::new(),
            startup_timeout,
            cancel,
            reproducible,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn free_slot(&self) {
        let mut state = self.lock();
        state.live = state.live.saturating_sub(1);
        drop(state);
        self.freed.notify_all();
    }

    /// A worker of `target`'s interpreter: an idle one, a new one while fewer than the cap
    /// live, else one that replaces an idle worker of another interpreter; otherwise wait.
    pub(crate) fn acquire(
        &self,
        target: usize,
        interpreter: &Interpreter,
    ) -> Result<Lease<'_>, WorkerError> {
        let mut refused = 0;
        loop {
            let evicted = self.take_slot(target)?;
            let (mut slot, evicted) = match evicted {
                Taken::Idle(worker) => return Ok(self.lease(target, worker)),
                Taken::Slot(evicted) => (Slot(Some(self)), evicted),
            };
            if let Some(worker) = evicted {
                worker.close();
            }
            match Worker::start(
                interpreter,
                self.startup_timeout,
                Arc::clone(&self.cancel),
                self.reproducible,
            ) {
                Ok(worker) => {
                    slot.0 = None; // the lease counts it now
                    return Ok(self.lease(target, worker));
                }
                Err(WorkerError::NoResources(why)) => {
                    drop(slot);
                    refused += 1;
                    if !self.fewer_workers() && refused >= NO_RESOURCES_ATTEMPTS {
                        self.lock().exhausted = Some(why.clone());
                        return Err(WorkerError::NoResources(why));
                    }
                    std::thread::sleep(NO_RESOURCES_PAUSE.min(WAIT_SLICE * refused));
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn lease(&self, target: usize, worker: Worker) -> Lease<'_> {
        Lease {
            pools: self,
            target,
            worker: Some(worker),
        }
    }

    /// After the system refused a process: lowers the cap to the workers alive, when some are
    /// (their jobs go on, and this one waits for them). False when none is alive.
    fn fewer_workers(&self) -> bool {
        let mut state = self.lock();
        if state.live == 0 {
            return false;
        }
        state.cap = state.live;
        true
    }

    fn take_slot(&self, target: usize) -> Result<Taken, WorkerError> {
        let mut state = self.lock();
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(WorkerError::Interrupted);
            }
            if let Some(why) = &state.exhausted {
                return Err(WorkerError::NoResources(why.clone()));
            }
            if let Some(at) = state.idle.iter().position(|(t, _)| *t == target) {
                return Ok(Taken::Idle(state.idle.swap_remove(at).1));
            }
            if state.live < state.cap {
                state.live += 1;
                return Ok(Taken::Slot(None));
            }
            if let Some((_, worker)) = state.idle.pop() {
                return Ok(Taken::Slot(Some(worker)));
            }
            state = self
                .freed
                .wait_timeout(state, WAIT_SLICE)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Closes every idle worker (at the end of the run).
    pub(crate) fn close_all(&self) {
        let idle = std::mem::take(&mut self.lock().idle);
        for (_, worker) in idle {
            worker.close();
        }
    }
}

enum Taken {
    /// An idle worker of the interpreter asked for.
    Idle(Worker),
    /// A slot for a new worker, with the idle worker of another interpreter it replaces.
    Slot(Option<Worker>),
}

/// The highest number of worker processes the open-files limit allows (each needs a few
/// descriptors), keeping a margin for the walk and the writes.
pub(crate) fn open_files_cap() -> usize {
    match rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        Some(limit) => (usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(64)
            / 4)
        .max(1),
        None => usize::MAX,
    }
}

#[cfg(test)]
mod tests;
