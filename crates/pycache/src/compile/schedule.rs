//! The schedule and collect stages: the jobs left after the cache go to compile threads, one
//! interpreter after another and largest files first, sharing at most `workers` worker
//! processes; the caller's thread collects each report as it finishes.
//!
//! Jobs are submitted a few at a time (twice as many as there are threads, so that no thread
//! waits for the next), not all at once: a future, its task and its report exist only for the
//! jobs in flight, and memory does not grow with the tree.

use super::cached::CacheStage;
use super::failures::Remembered;
use super::job::{Ran, Runner};
use super::plan::{Job, Plan};
use super::pool::{Pools, open_files_cap};
use super::{CompileOptions, Failure, FileReport, Tally};
use concurrent_futures::{Executor, Future, ReturnWhen, TaskError, ThreadPoolExecutor, wait};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The least time a worker gets to start and greet, whatever the per-file timeout.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Jobs for compile threads, submitted as [`collect`] goes.
pub(super) struct Scheduled {
    executor: ThreadPoolExecutor,
    jobs: std::vec::IntoIter<Job>,
    pub(super) runner: Arc<Runner>,
}

/// Orders `stale` (not empty) and starts the compile threads.
pub(super) fn schedule(
    plan: Plan,
    mut stale: Vec<Job>,
    options: &CompileOptions,
    cache: Option<CacheStage>,
) -> Scheduled {
    // One interpreter after another, largest files first within each: workers are started once
    // per interpreter (not once per file, as interleaving interpreters would force), and no
    // worker is left holding one big file at the end.
    stale.sort_by(|a, b| a.target.cmp(&b.target).then(b.size.cmp(&a.size)));
    let targets = plan.targets.len();
    let workers = options
        .workers
        .max(1)
        .min(open_files_cap())
        .min(stale.len());
    let runner = Arc::new(Runner {
        plan,
        // Start-up (importing what compileall imports) gets its own allowance, bounded even
        // when files may take for ever.
        pools: Pools::new(
            workers,
            options
                .timeout
                .map_or(STARTUP_TIMEOUT, |t| t.max(STARTUP_TIMEOUT)),
            Arc::clone(&options.cancel),
            options.reproducible,
        ),
        options: options.clone(),
        cache,
        contradicted: (0..targets).map(|_| std::sync::OnceLock::new()).collect(),
    });
    // Twice as many threads as worker processes: while one thread writes a file's pycs, another
    // already feeds that worker its next file, so no interpreter waits on Rust's I/O.
    let executor = ThreadPoolExecutor::builder()
        .max_workers(workers * 2)
        .thread_name_prefix("pycache-compile")
        .build()
        .expect("at least one worker");
    Scheduled {
        executor,
        jobs: stale.into_iter(),
        runner,
    }
}

/// Reports each file as it finishes (remembering rejections), then stops the threads and the
/// workers; gives back the cache stage's owner, and (when `hold_back`) the reports of the
/// files whose worker contradicted the interpreter's probe, untold.
pub(super) fn collect(
    scheduled: Scheduled,
    remembered: &mut Remembered,
    tally: &mut Tally<impl FnMut(super::Event<'_>)>,
    hold_back: bool,
) -> (Arc<Runner>, Vec<FileReport>) {
    let mut held = Vec::new();
    let Scheduled {
        executor,
        mut jobs,
        runner,
    } = scheduled;
    let mut finish = |ran: &Ran| {
        if hold_back && ran.report.outcome.is_probe_out_of_date() {
            held.push(ran.report.clone());
        } else {
            remembered.settle(&runner.plan, ran);
            tally.file(&ran.report);
        }
    };
    let window = executor.max_workers() * 2;
    // Each future with a copy of its job: a job the executor itself fails (a pool that could
    // not start a thread) is done on this thread instead of being lost.
    let mut in_flight: Vec<(Future<Ran>, Job)> = Vec::with_capacity(window);
    loop {
        if runner.options.cancel.load(Ordering::SeqCst) {
            // Interrupted: what was not submitted is not started at all.
            for job in jobs.by_ref() {
                finish(&runner.failed(job, Failure::Interrupted));
            }
        }
        while in_flight.len() < window
            && let Some(job) = jobs.next()
        {
            let (task_runner, task_job) = (Arc::clone(&runner), job.clone());
            match executor.submit(move || task_runner.run(task_job)) {
                Ok(future) => in_flight.push((future, job)),
                // Not even one compile thread could be started (a process limit): this
                // thread does the job.
                Err(_) => finish(&runner.run(job)),
            }
        }
        if in_flight.is_empty() {
            break;
        }
        let futures = in_flight.iter().map(|(future, _)| future.clone());
        let (done, _) = wait(futures, None, ReturnWhen::FirstCompleted);
        for future in done {
            let at = in_flight
                .iter()
                .position(|(f, _)| f.ptr_eq(&future))
                .expect("a done future is in flight");
            let (_, job) = in_flight.swap_remove(at);
            // Done, so this does not wait; read in place (a report is not cloned). A job
            // catches its own panics (`Runner::run`), so an error is the executor's. A broken
            // pool never ran the job: this thread runs it. Anything else failed the job.
            let failed = future
                .with_result(None, |finished| match finished {
                    Ok(ran) => {
                        finish(ran);
                        None
                    }
                    Err(error) => Some(error.clone()),
                })
                .unwrap_or_else(|error| Some(TaskError::failed(error.to_string())));
            match failed {
                None => {}
                Some(error) if error.is_broken_executor() => finish(&runner.run(job)),
                Some(error) => finish(&runner.failed(
                    job,
                    Failure::Panicked {
                        message: error.to_string(),
                    },
                )),
            }
        }
    }
    executor.shutdown(true, false);
    runner.pools.close_all();
    (runner, held)
}
