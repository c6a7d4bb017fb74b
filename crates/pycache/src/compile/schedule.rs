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
use super::{CompileOptions, Failure, FileReport, Outcome, Tally};
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
    know_sizes(&stale, options);
    stale.sort_by_key(|job| (job.target, std::cmp::Reverse(job.cell.size())));
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

/// Makes every source's size known (see [`super::plan::SourceCell::size`]) on several
/// threads, before the sort asks: the sources the walk did not stat (none of their pycs was
/// there) and the cache did not read are stat'ed here, once each however many interpreters
/// compile them.
fn know_sizes(stale: &[Job], options: &CompileOptions) {
    let unknown: Vec<&Job> = stale
        .iter()
        .filter(|job| job.cell.candidate.facts.is_none())
        .collect();
    if !unknown.is_empty() {
        let pool = crate::parallel::Pool::new(options.workers.clamp(1, 8));
        pool.map(&unknown, |job| job.cell.size());
    }
}

impl Scheduled {
    /// The jobs not yet submitted, in the order they will be.
    #[cfg(test)]
    pub(super) fn queued(&self) -> &[Job] {
        self.jobs.as_slice()
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
    let mut finish = |finished: &Result<Ran, TaskError>| match finished {
        Ok(ran) if hold_back && ran.report.outcome.is_probe_out_of_date() => {
            held.push(ran.report.clone());
        }
        Ok(ran) => {
            remembered.settle(&runner.plan, ran);
            tally.file(&ran.report);
        }
        // A job catches its own panics (`Runner::run`) and a pool hands back a task it cannot
        // run, so this is the executor failing a task it took: no file to name.
        Err(error) => tally.file(&FileReport {
            interpreter: 0,
            source: std::ffi::OsString::new(),
            pycs: Vec::new(),
            outcome: Outcome::Failed(Failure::Panicked {
                message: error.to_string(),
            }),
            warnings: String::new(),
            notices: Vec::new(),
        }),
    };
    let window = executor.max_workers() * 2;
    let mut in_flight: Vec<Future<Ran>> = Vec::with_capacity(window);
    loop {
        if runner.options.cancel.load(Ordering::SeqCst) {
            // Interrupted: what was not submitted is not started at all.
            for job in jobs.by_ref() {
                finish(&Ok(Ran::new(job, Err(Failure::Interrupted))));
            }
        }
        while in_flight.len() < window
            && let Some(job) = jobs.next()
        {
            let task_runner = Arc::clone(&runner);
            match executor.submit(move || task_runner.run(job)) {
                Ok(future) => in_flight.push(future),
                // Not even one compile thread could be started (a process limit): the task
                // comes back, and this thread does it.
                Err(refused) => finish(&refused.into_task().run()),
            }
        }
        if in_flight.is_empty() {
            break;
        }
        let (done, not_done) = wait(in_flight, None, ReturnWhen::FirstCompleted);
        in_flight = not_done;
        for future in done {
            // Done, so this does not wait; read in place (a report is not cloned).
            let _ = future.with_result(None, &mut finish);
        }
    }
    executor.shutdown(true, false);
    runner.pools.close_all();
    (runner, held)
}
