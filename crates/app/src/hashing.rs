//! Password checks, a few at a time. Each Argon2 check takes 19 MiB and
//! a core for a while: run hundreds at once and memory grows by gigabytes
//! while every one of them gets slower. So checks take a place among
//! `slots` (one per core, at least two), wait in a queue of bounded length
//! for at most `max_wait`, and are turned away (the caller answers 429)
//! when the queue is full or the wait too long.

use crate::passwords::{hash_password, verify_password};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why a check did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// As many are waiting as may.
    QueueFull,
    /// No place came free within the wait limit.
    Timeout,
}

pub struct HashQueue {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

/// How long a check may wait for a place: long enough for a queue of
/// checks ahead of it, short enough that a person is not left hanging.
pub const MAX_WAIT: Duration = Duration::from_secs(3);

impl Default for HashQueue {
    /// One place per core (at least two), up to 32 waiting per place.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = cores.max(2);
        Self::new(slots, slots * 32, MAX_WAIT)
    }
}

impl HashQueue {
    pub fn new(slots: usize, max_waiting: usize, max_wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            max_wait,
        }
    }

    /// Checks `password` against `stored` once a place is free. With no
    /// stored hash (no such user) a check runs all the same, against a
    /// hash of nothing, so the time taken does not tell which names exist.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Refused> {
        let slot = {
            let _waiting = Waiting::enter(&self.waiting, self.max_waiting)?;
            let acquire = self.slots.clone().acquire_owned();
            match tokio::time::timeout(self.max_wait, acquire).await {
                Ok(Ok(slot)) => slot,
                // The semaphore is never closed; if it were, turn away.
                Ok(Err(_)) | Err(_) => return Err(Refused::Timeout),
            }
        };
        // The place travels with the work: if the request goes away, the
        // place is still held until the hashing really ends.
        let check = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            verify_password(&password, &stored)
        });
        Ok(check.await.unwrap_or(false))
    }

    /// Checks waiting for a place now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// A place in the waiting line, given up when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, max: usize) -> Result<Self, Refused> {
        let entered = count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        });
        match entered {
            Ok(_) => Ok(Waiting(count)),
            Err(_) => Err(Refused::QueueFull),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_queue_or_its_wait_are_turned_away() {
        let stored = hash_password("right").unwrap();
        let queue = Arc::new(HashQueue::new(1, 2, Duration::from_millis(1)));
        let many: Vec<_> = (0..20)
            .map(|_| {
                let (queue, stored) = (queue.clone(), stored.clone());
                tokio::spawn(async move { queue.verify("right".into(), Some(stored)).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in many {
            outcomes.push(task.await.unwrap());
        }
        assert!(outcomes.contains(&Ok(true)), "{outcomes:?}");
        let refused = outcomes.iter().filter(|o| o.is_err()).count();
        assert!(refused >= 10, "one place, a 1 ms wait: {outcomes:?}");
        assert_eq!(queue.waiting(), 0, "every place in line given back");
        assert_eq!(queue.slots.available_permits(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_check_runs_once_a_place_is_free() {
        let stored = hash_password("right").unwrap();
        let queue = Arc::new(HashQueue::new(1, 8, Duration::from_secs(30)));
        let both = tokio::join!(
            queue.verify("right".into(), Some(stored.clone())),
            queue.verify("wrong".into(), Some(stored)),
            queue.verify("x".into(), None),
        );
        assert_eq!(both, (Ok(true), Ok(false), Ok(false)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_line_refuses_at_once() {
        let queue = HashQueue::new(1, 0, Duration::from_secs(30));
        assert_eq!(
            queue.verify("x".into(), None).await,
            Err(Refused::QueueFull)
        );
    }
}
