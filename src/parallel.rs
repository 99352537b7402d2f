//! The one worker pool: downloads (and what is done with each download) run
//! on a few threads, results come back in the order of the input.

use anyhow::{Result, bail};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Threads for network-bound work: enough to hide latency, few enough to be
/// polite to a mirror or an index.
pub const WORKERS: usize = 8;

/// At most one holder per core of CPU- and memory-heavy work done by the
/// network workers (decompressing a package): more at once only adds the
/// buffers, not speed.
pub struct CpuPermits {
    busy: Mutex<usize>,
    freed: Condvar,
}

pub struct CpuPermit<'a>(&'a CpuPermits);

impl CpuPermits {
    pub const fn new() -> CpuPermits {
        CpuPermits {
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits until fewer holders than cores hold one.
    pub fn acquire(&self) -> CpuPermit<'_> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= cores {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
        CpuPermit(self)
    }
}

impl Default for CpuPermits {
    fn default() -> Self {
        CpuPermits::new()
    }
}

impl Drop for CpuPermit<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// Runs `work` on every item on up to `workers` threads and returns the
/// results in item order. Once an item fails no new item is started, and the
/// first error in item order is returned (items are handed out in order, so
/// every item before a failed one has run).
pub fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = work(item);
                    let failed = result.is_err();
                    results.lock().unwrap()[i] = Some(result);
                    if failed {
                        next.store(items.len(), Ordering::Relaxed); // stop handing out work
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    for result in results.into_inner().unwrap() {
        match result {
            Some(r) => out.push(r?),
            None => bail!("an item was not attempted after an earlier failure"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_in_order_and_first_error_wins() {
        let items: Vec<u32> = (0..50).collect();
        let doubled = super::map_ordered(&items, 4, |i| Ok(i * 2)).unwrap();
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let err = super::map_ordered(&items, 4, |i| {
            if *i >= 10 {
                anyhow::bail!("item {i}")
            } else {
                Ok(*i)
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 10");
    }
}
