//! Admission to the one local model, and letting go of it when the caller does.
//!
//! Requests take turns on the model, so a burst queues behind it; without a bound, a queue of a
//! hundred requests means the last caller waits many minutes and has long since given up. Past
//! `limit` callers waiting or served, a request is refused at once with a hint of when to come
//! back (HTTP turns it into 429 + `Retry-After`). A caller that gives up (a client disconnects,
//! a timeout drops the future) frees its place at once and sets its [`Cancel`] flag, which
//! generation checks at every token, so the model moves on to someone still waiting.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use miyagi_kernel::KernelError;

/// Requests that may wait for or use the model at once when nothing else is configured.
pub const DEFAULT_QUEUE_LIMIT: usize = 16;
/// A guess at one request's turn, for the retry hint: small models answer in a few seconds.
const SECONDS_PER_REQUEST: u64 = 5;

pub(crate) struct Queue {
    limit: usize,
    admitted: AtomicUsize,
}

/// A place in the queue, given back when dropped.
pub(crate) struct Ticket(Arc<Queue>);

impl Queue {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            admitted: AtomicUsize::new(0),
        })
    }

    pub(crate) fn admit(self: &Arc<Self>) -> Result<Ticket, KernelError> {
        let admitted = self.admitted.fetch_add(1, Ordering::SeqCst);
        if admitted >= self.limit {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(KernelError::RateLimited {
                retry_after: Some(Duration::from_secs(SECONDS_PER_REQUEST * admitted as u64)),
            });
        }
        Ok(Ticket(self.clone()))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Set when dropped: held by the waiting caller, read by the generating thread.
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub(crate) fn new() -> Self {
        Self(Arc::default())
    }

    /// What generation reads: `true` once the caller is gone.
    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_with_a_hint_and_a_freed_place_is_taken_again() {
        let queue = Queue::new(2);
        let first = queue.admit().unwrap();
        let _second = queue.admit().unwrap();
        match queue.admit() {
            Err(KernelError::RateLimited {
                retry_after: Some(wait),
            }) => assert!(wait >= Duration::from_secs(1)),
            Err(other) => panic!("refused for the wrong reason: {other}"),
            Ok(_) => panic!("a third caller was admitted past the limit of 2"),
        }
        drop(first);
        assert!(queue.admit().is_ok());
    }

    #[test]
    fn dropping_the_caller_side_cancels() {
        let cancel = Cancel::new();
        let flag = cancel.flag();
        assert!(!flag.load(Ordering::SeqCst));
        drop(cancel);
        assert!(flag.load(Ordering::SeqCst));
    }
}
