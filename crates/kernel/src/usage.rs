//! The usage ledger: tokens and estimated cost of every model call, by run, by user and by day.
//!
//! A server makes model calls for as long as it runs, so the ledger keeps no list of them all:
//! each call is rolled up into its user's day (for [`Self::for_user`] and the daily quota in
//! [`crate::limits`]) and its run, and only the latest calls are kept whole. Days older than
//! [`DAYS_KEPT`] and the oldest runs beyond [`RUNS_KEPT`] are dropped as new ones arrive. The
//! ledger lives in memory: totals start again when the process does.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::chat::Usage;

/// Calls kept whole, newest last, for [`UsageLedger::records`].
pub const RECENT_KEPT: usize = 1024;
/// Days of per-user totals kept.
pub const DAYS_KEPT: u64 = 90;
/// Runs whose totals are kept; older runs are forgotten first.
pub const RUNS_KEPT: usize = 4096;

/// Price of a model in currency units per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub model: String,
    pub run_id: Option<String>,
    pub user_id: Option<String>,
    pub usage: Usage,
    pub cost: f64,
    pub streamed: bool,
    pub cached: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: f64,
}

impl Totals {
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    fn add(&mut self, record: &UsageRecord) {
        self.calls += 1;
        self.prompt_tokens += u64::from(record.usage.prompt_tokens);
        self.completion_tokens += u64::from(record.usage.completion_tokens);
        self.cost += record.cost;
    }

    fn plus(self, other: &Totals) -> Totals {
        Totals {
            calls: self.calls + other.calls,
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            cost: self.cost + other.cost,
        }
    }
}

/// A UTC day, as days since the Unix epoch.
pub type Day = u64;

pub fn today() -> Day {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

#[derive(Default)]
struct Rollups {
    recent: VecDeque<UsageRecord>,
    /// (day, user, model) → totals; calls made for no user are under "".
    days: BTreeMap<(Day, String, String), Totals>,
    runs: HashMap<String, Totals>,
    run_order: VecDeque<String>,
    all: Totals,
}

impl Rollups {
    fn add(&mut self, day: Day, record: UsageRecord) {
        self.all.add(&record);
        let user = record.user_id.clone().unwrap_or_default();
        self.days
            .entry((day, user, record.model.clone()))
            .or_default()
            .add(&record);
        let oldest_kept = day.saturating_sub(DAYS_KEPT - 1);
        while let Some(entry) = self.days.first_entry() {
            if entry.key().0 >= oldest_kept {
                break;
            }
            entry.remove();
        }
        if let Some(run) = &record.run_id {
            if !self.runs.contains_key(run) {
                self.run_order.push_back(run.clone());
                if self.run_order.len() > RUNS_KEPT {
                    if let Some(oldest) = self.run_order.pop_front() {
                        self.runs.remove(&oldest);
                    }
                }
            }
            self.runs.entry(run.clone()).or_default().add(&record);
        }
        self.recent.push_back(record);
        if self.recent.len() > RECENT_KEPT {
            self.recent.pop_front();
        }
    }
}

#[derive(Default)]
pub struct UsageLedger {
    prices: HashMap<String, Price>,
    rollups: Mutex<Rollups>,
}

impl UsageLedger {
    pub fn with_prices(prices: HashMap<String, Price>) -> Self {
        Self {
            prices,
            rollups: Mutex::default(),
        }
    }

    pub fn record(&self, record: UsageRecord) {
        self.record_on(today(), record);
    }

    /// Records a call as made on `day` (tests use it to reach past days).
    pub fn record_on(&self, day: Day, mut record: UsageRecord) {
        let price = self.prices.get(&record.model).copied().unwrap_or_default();
        record.cost = if record.cached {
            0.0
        } else {
            (f64::from(record.usage.prompt_tokens) * price.input_per_million
                + f64::from(record.usage.completion_tokens) * price.output_per_million)
                / 1e6
        };
        metrics_for(&record);
        self.rollups.lock().expect("ledger lock").add(day, record);
    }

    /// The latest calls, oldest first: at most [`RECENT_KEPT`].
    pub fn records(&self) -> Vec<UsageRecord> {
        let rollups = self.rollups.lock().expect("ledger lock");
        rollups.recent.iter().cloned().collect()
    }

    /// Every call since the process started.
    pub fn total(&self) -> Totals {
        self.rollups.lock().expect("ledger lock").all
    }

    /// A run's calls, while the run is among the [`RUNS_KEPT`] latest.
    pub fn for_run(&self, run_id: &str) -> Totals {
        let rollups = self.rollups.lock().expect("ledger lock");
        rollups.runs.get(run_id).copied().unwrap_or_default()
    }

    /// A user's calls over the days kept.
    pub fn for_user(&self, user_id: &str) -> Totals {
        self.user_days(user_id, 0)
    }

    /// A user's calls on `day` and after.
    pub fn user_days(&self, user_id: &str, from: Day) -> Totals {
        let rollups = self.rollups.lock().expect("ledger lock");
        rollups
            .days
            .range((from, String::new(), String::new())..)
            .filter(|((_, user, _), _)| user == user_id)
            .fold(Totals::default(), |sum, (_, t)| sum.plus(t))
    }

    /// How many (day, user, model) rollups are held: bounded by the days kept.
    pub fn rollup_count(&self) -> usize {
        self.rollups.lock().expect("ledger lock").days.len()
    }
}

fn metrics_for(record: &UsageRecord) {
    tracing::debug!(
        model = %record.model,
        run_id = record.run_id.as_deref().unwrap_or(""),
        input_tokens = record.usage.prompt_tokens,
        output_tokens = record.usage.completion_tokens,
        cost = record.cost,
        cached = record.cached,
        "model usage"
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A call of `tokens` prompt tokens for `user` in `run`.
    pub(crate) fn call(user: &str, run: &str, tokens: u32) -> UsageRecord {
        UsageRecord {
            model: "m".into(),
            run_id: Some(run.into()),
            user_id: Some(user.into()),
            usage: Usage {
                prompt_tokens: tokens,
                completion_tokens: 0,
            },
            cost: 0.0,
            streamed: false,
            cached: false,
        }
    }

    #[test]
    fn a_long_running_ledger_holds_a_bounded_number_of_calls_days_and_runs() {
        let ledger = UsageLedger::default();
        for n in 0..(3 * DAYS_KEPT) {
            for m in 0..20 {
                ledger.record_on(n, call(&format!("u{}", m % 2), &format!("r{n}-{m}"), 10));
            }
        }
        assert_eq!(ledger.records().len(), RECENT_KEPT);
        assert_eq!(
            ledger.rollup_count(),
            2 * DAYS_KEPT as usize,
            "two users a day"
        );
        assert_eq!(
            ledger.for_run("r0-0"),
            Totals::default(),
            "old runs forgotten"
        );
        assert_eq!(
            ledger.for_run(&format!("r{}-3", 3 * DAYS_KEPT - 1)).calls,
            1
        );
        assert_eq!(
            ledger.total().calls,
            3 * DAYS_KEPT as u32 * 20,
            "totals keep everything"
        );
    }

    #[test]
    fn a_users_days_add_up_from_the_day_asked() {
        let ledger = UsageLedger::default();
        ledger.record_on(10, call("alice", "a", 100));
        ledger.record_on(11, call("alice", "b", 20));
        ledger.record_on(11, call("bob", "c", 7));
        assert_eq!(ledger.user_days("alice", 11).tokens(), 20);
        assert_eq!(ledger.for_user("alice").tokens(), 120);
        assert_eq!(ledger.for_user("bob").tokens(), 7);
    }
}
