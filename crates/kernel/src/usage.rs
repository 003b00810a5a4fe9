//! The usage ledger: tokens and estimated cost of every model call, by run and by user.

use std::{collections::HashMap, sync::Mutex};

use crate::chat::Usage;

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

#[derive(Default)]
pub struct UsageLedger {
    prices: HashMap<String, Price>,
    records: Mutex<Vec<UsageRecord>>,
}

impl UsageLedger {
    pub fn with_prices(prices: HashMap<String, Price>) -> Self {
        Self {
            prices,
            records: Mutex::default(),
        }
    }

    pub fn record(&self, mut record: UsageRecord) {
        let price = self.prices.get(&record.model).copied().unwrap_or_default();
        record.cost = if record.cached {
            0.0
        } else {
            (f64::from(record.usage.prompt_tokens) * price.input_per_million
                + f64::from(record.usage.completion_tokens) * price.output_per_million)
                / 1e6
        };
        metrics_for(&record);
        self.records.lock().expect("ledger lock").push(record);
    }

    pub fn records(&self) -> Vec<UsageRecord> {
        self.records.lock().expect("ledger lock").clone()
    }

    fn totals_where(&self, keep: impl Fn(&UsageRecord) -> bool) -> Totals {
        self.records
            .lock()
            .expect("ledger lock")
            .iter()
            .filter(|r| keep(r))
            .fold(Totals::default(), |t, r| Totals {
                calls: t.calls + 1,
                prompt_tokens: t.prompt_tokens + u64::from(r.usage.prompt_tokens),
                completion_tokens: t.completion_tokens + u64::from(r.usage.completion_tokens),
                cost: t.cost + r.cost,
            })
    }

    pub fn total(&self) -> Totals {
        self.totals_where(|_| true)
    }

    pub fn for_run(&self, run_id: &str) -> Totals {
        self.totals_where(|r| r.run_id.as_deref() == Some(run_id))
    }

    pub fn for_user(&self, user_id: &str) -> Totals {
        self.totals_where(|r| r.user_id.as_deref() == Some(user_id))
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
