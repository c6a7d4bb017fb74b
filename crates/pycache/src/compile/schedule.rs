//! The schedule and collect stages: the jobs left after the cache go to compile threads, one
//! interpreter after another and largest files first, sharing at most `workers` worker
//! processes; the caller's thread collects each report as it finishes.

use super::cached::CacheStage;
use super::failures::Remembered;
use super::job::Runner;
use super::plan::{Job, Plan};
use super::pool::{Pools, open_files_cap};
use super::{CompileOptions, Failure, FileReport, Outcome, Tally};
use concurrent_futures::{Executor, Future, ThreadPoolExecutor, as_completed};
use std::sync::Arc;
use std::time::Duration;

/// The least time a worker gets to start and greet, whatever the per-file timeout.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Jobs submitted to compile threads.
pub(super) struct Scheduled {
    executor: ThreadPoolExecutor,
    futures: Vec<Future<FileReport>>,
    pub(super) runner: Arc<Runner>,
}

/// Submits `stale` (not empty) to compile threads.
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
    let futures = stale
        .into_iter()
        .map(|job| {
            let runner = Arc::clone(&runner);
            executor
                .submit(move || runner.run(job))
                .expect("the executor is running")
        })
        .collect();
    Scheduled {
        executor,
        futures,
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
        futures,
        runner,
    } = scheduled;
    for done in as_completed(futures, None) {
        let Ok(future) = done else { continue };
        let report = match future.result(None) {
            Ok(report) => report,
            // A job catches its own panics and reports them with its file (`Runner::run`), so
            // this is the executor itself failing a task (a broken pool): no file to name.
            Err(error) => FileReport {
                interpreter: 0,
                source: std::ffi::OsString::new(),
                pycs: Vec::new(),
                outcome: Outcome::Failed(Failure::Panicked {
                    message: error.to_string(),
                }),
                warnings: String::new(),
                notices: Vec::new(),
            },
        };
        if hold_back
            && matches!(
                report.outcome,
                Outcome::Failed(Failure::ProbeOutOfDate { .. })
            )
        {
            held.push(report);
            continue;
        }
        remembered.settle(&runner.plan, &report);
        tally.file(&report);
    }
    executor.shutdown(true, false);
    runner.pools.close_all();
    (runner, held)
}
