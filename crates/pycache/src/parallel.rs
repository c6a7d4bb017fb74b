//! A scoped parallel map for the file-system-bound passes (freshness, scans). Work is handed out
//! in small chunks, so slow directories do not leave a thread idle; results keep input order,
//! each moved once into place.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Items per hand-out: small enough to balance, large enough that the counter is not contended.
const CHUNK: usize = 32;

/// `f` over `items` on `threads` threads; results in input order. Small inputs run inline.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < 2 * CHUNK {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut chunks: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let work = || {
            let mut mine = Vec::new();
            loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                let start = chunk * CHUNK;
                if start >= items.len() {
                    break;
                }
                let end = (start + CHUNK).min(items.len());
                mine.push((chunk, items[start..end].iter().map(&f).collect()));
            }
            mine
        };
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            all.extend(helper.join().expect("a worker thread panicked"));
        }
        all
    });
    chunks.sort_unstable_by_key(|(chunk, _)| *chunk);
    let mut results = Vec::with_capacity(items.len());
    for (_, part) in chunks {
        results.extend(part);
    }
    results
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
}
