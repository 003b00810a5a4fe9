//! One lane per partition: the events of a partition are handled in order by a task of its own,
//! so a partition stuck on one event (an outage being retried, a slow model call) holds up only
//! the events behind it, while the loop goes on polling and the other partitions keep flowing.
//!
//! A lane with `depth` events waiting (two polls' worth) is held back at the bus
//! ([`Subscription::pause`]) and let go once half of them are done, so a stuck partition costs a bounded amount of memory. Lanes
//! report each event they finish, in log order; committing a finished event commits its
//! partition up to it, which is why a lane stops at the first event it could not finish.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use tokio::{sync::mpsc, task::JoinSet};

use crate::events::{Delivery, Subscription};

/// Handles one delivery and gives it back once done, or `None` when it could not be finished
/// (shutdown came mid-retry).
pub(super) type Work =
    Arc<dyn Fn(Delivery) -> futures::future::BoxFuture<'static, Option<Delivery>> + Send + Sync>;

pub(super) struct Lanes {
    lanes: HashMap<(String, u32), Lane>,
    /// Dropped with the loop (an aborted consumer task included), which aborts every lane.
    tasks: JoinSet<()>,
    finished_tx: mpsc::UnboundedSender<Delivery>,
    finished_rx: mpsc::UnboundedReceiver<Delivery>,
    work: Work,
    depth: usize,
}

struct Lane {
    queue: mpsc::UnboundedSender<Delivery>,
    /// Events sent to the lane and not yet done.
    waiting: Arc<AtomicUsize>,
    paused: bool,
}

impl Lanes {
    pub(super) fn new(work: Work, depth: usize) -> Self {
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Self {
            lanes: HashMap::new(),
            tasks: JoinSet::new(),
            finished_tx,
            finished_rx,
            work,
            depth: depth.max(1),
        }
    }

    /// Queues `delivery` on its partition's lane, starting the lane on its first event.
    pub(super) fn dispatch(&mut self, delivery: Delivery) {
        let key = (delivery.topic.clone(), delivery.partition);
        let lane = match self.lanes.get(&key) {
            Some(lane) if !lane.queue.is_closed() => lane,
            // The lane stopped at an event it could not finish (the loop is stopping): what came
            // after it must not be handled out of order, and is redelivered from the committed
            // offset when the group next runs.
            Some(_) => return,
            None => {
                let (queue, events) = mpsc::unbounded_channel();
                let waiting = Arc::new(AtomicUsize::new(0));
                self.tasks.spawn(run_lane(
                    events,
                    waiting.clone(),
                    self.work.clone(),
                    self.finished_tx.clone(),
                ));
                self.lanes.entry(key).or_insert(Lane {
                    queue,
                    waiting,
                    paused: false,
                })
            }
        };
        lane.waiting.fetch_add(1, Ordering::SeqCst);
        if lane.queue.send(delivery).is_err() {
            lane.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Whether any lane has events in hand or waiting.
    pub(super) fn busy(&self) -> bool {
        self.lanes
            .values()
            .any(|lane| lane.waiting.load(Ordering::SeqCst) > 0)
    }

    /// Pauses the partitions whose lanes are full and resumes those that have drained to half.
    /// A failure is only logged: a partition the bus moved elsewhere needs neither.
    pub(super) async fn steer(&mut self, subscription: &mut dyn Subscription) {
        for ((topic, partition), lane) in &mut self.lanes {
            let waiting = lane.waiting.load(Ordering::SeqCst);
            let result = if !lane.paused && waiting >= self.depth {
                lane.paused = true;
                subscription.pause(topic, *partition).await
            } else if lane.paused && waiting <= self.depth / 2 {
                lane.paused = false;
                subscription.resume(topic, *partition).await
            } else {
                continue;
            };
            if let Err(e) = result {
                tracing::debug!(%topic, partition, error = %e, "could not pause or resume a partition");
            }
        }
    }

    /// The events finished since the last call, each partition's in log order.
    pub(super) fn finished(&mut self) -> Vec<Delivery> {
        let mut done = Vec::new();
        while let Ok(delivery) = self.finished_rx.try_recv() {
            done.push(delivery);
        }
        done
    }

    /// Why a lane ended on its own, if one did: a panic outside the handler (whose own panics
    /// are caught), which is a bug. Its partition can go no further in this process.
    pub(super) fn broken(&mut self) -> Option<String> {
        match self.tasks.try_join_next() {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        }
    }

    /// Lets every lane finish what it was given (an event being retried stops at shutdown, and
    /// its lane with it), then returns what was finished.
    pub(super) async fn close(mut self) -> Vec<Delivery> {
        self.lanes.clear();
        while self.tasks.join_next().await.is_some() {}
        self.finished()
    }
}

async fn run_lane(
    mut events: mpsc::UnboundedReceiver<Delivery>,
    waiting: Arc<AtomicUsize>,
    work: Work,
    finished: mpsc::UnboundedSender<Delivery>,
) {
    while let Some(delivery) = events.recv().await {
        let done = work(delivery).await;
        waiting.fetch_sub(1, Ordering::SeqCst);
        match done {
            Some(delivery) => {
                let _ = finished.send(delivery);
            }
            // Stopping here keeps the committed offset before the unfinished event.
            None => return,
        }
    }
}
