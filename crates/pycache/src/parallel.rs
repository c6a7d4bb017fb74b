//! A parallel map for the file-system-bound passes (freshness, scans), on rayon.
//!
//! Each call runs on a pool of the caller's size (`-j` bounds the file-system passes too), in
//! chunks of at least [`CHUNK`] items so that slow directories do not leave a thread idle and
//! the work queue is not contended; results keep input order.

use rayon::prelude::*;

/// Items per hand-out: small enough to balance, large enough that the queue is not contended.
const CHUNK: usize = 32;

/// `f` over `items` on `threads` threads; results in input order. Small inputs run inline.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    Pool::new(threads).map(items, f)
}

/// Threads for several [`Pool::map`] calls in a row (a pass that goes chunk by chunk, so that
/// its results need not all be held at once), started once, when first needed.
pub(crate) struct Pool {
    threads: usize,
    /// `None` inside: no thread could be started; the work is done inline.
    pool: std::sync::OnceLock<Option<rayon::ThreadPool>>,
}

impl Pool {
    /// A pool of `threads` threads, none started yet (one thread: the work is done inline).
    pub(crate) fn new(threads: usize) -> Self {
        Pool {
            threads,
            pool: std::sync::OnceLock::new(),
        }
    }

    /// `f` over `items`; results in input order. Small inputs run inline, and start no thread.
    pub(crate) fn map<T: Sync, R: Send>(&self, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        if self.threads <= 1 || items.len() < 2 * CHUNK {
            return items.iter().map(f).collect();
        }
        let pool = self.pool.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(self.threads)
                .build()
                .ok()
        });
        match pool {
            Some(pool) => pool.install(|| items.par_iter().with_min_len(CHUNK).map(&f).collect()),
            None => items.iter().map(f).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_on_many_threads() {
        let items: Vec<usize> = (0..1000).collect();
        for threads in [1, 2, 3, 8] {
            let doubled = parallel_map(&items, threads, |&i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn runs_on_as_many_threads_as_asked() {
        let items: Vec<usize> = (0..10_000).collect();
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        parallel_map(&items, 3, |_| {
            seen.lock().unwrap().insert(std::thread::current().id());
            std::thread::sleep(std::time::Duration::from_micros(20));
        });
        let threads = seen.into_inner().unwrap();
        assert!(threads.len() <= 3, "{} threads", threads.len());
        assert!(!threads.contains(&std::thread::current().id()));
    }
}
