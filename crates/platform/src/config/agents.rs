use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Agent runs: how long a step that changes something waits for the person, and how a step
/// that fails is retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    /// Seconds an approval may wait; unanswered by then, the step is rejected.
    pub approval_secs: u64,
    /// Seconds one attempt of a step may take before it counts as failed.
    pub step_timeout_secs: u64,
    /// Attempts a step gets before its run fails (1: no retry).
    pub step_attempts: u32,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            approval_secs: 24 * 60 * 60,
            // A report is written by the local model, which may queue behind other requests.
            step_timeout_secs: 600,
            step_attempts: 3,
        }
    }
}

impl AgentsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=30 * 24 * 60 * 60).contains(&self.approval_secs) {
            return Err(ConfigError::expected(
                "agents.approval_secs",
                "seconds from 1 to 2592000 (30 days), such as 86400",
            ));
        }
        if !(1..=3_600).contains(&self.step_timeout_secs) {
            return Err(ConfigError::expected(
                "agents.step_timeout_secs",
                "seconds from 1 to 3600, such as 600",
            ));
        }
        if !(1..=10).contains(&self.step_attempts) {
            return Err(ConfigError::expected(
                "agents.step_attempts",
                "a number of attempts from 1 to 10, such as 3",
            ));
        }
        Ok(())
    }
}
