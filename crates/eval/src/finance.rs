//! The finance engine as kernel functions a flow's tool nodes call under `miyagi eval`: a
//! flow that explains a person's plan can compute that plan in a node, from the row's profile,
//! instead of a dataset carrying numbers the engine might not give. The words are the ones the
//! coach's tools answer with (`miyagi_finance::figures`), so a flow is judged on what the coach
//! would be given.
//!
//! In a service these functions act for the person the kernel runs for and read their stored
//! profile; here the profile is an argument (the row's), in the shape the users service takes
//! (`POST /api/v1/userprofile`), and held to the same rules.

use std::{collections::BTreeMap, sync::Arc};

use chrono::Utc;
use miyagi_domain::user::{UserProfile, UserProfileInput};
use miyagi_finance::{allocation::Allocation, figures};
use miyagi_kernel::{Kernel, KernelFunction, NativeFunction, Plugin};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;
use validator::Validate;

/// The plugin's name in a flow: `tool: finance.describe`.
pub const PLUGIN: &str = "finance";

#[derive(Deserialize, JsonSchema)]
struct Describe {
    /// The person's profile, as the users service takes it.
    profile: Value,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Project {
    /// The person's profile, as the users service takes it.
    profile: Value,
    /// Years ahead; by default until the person retires.
    years: Option<u32>,
    /// What they save a year, in dollars; by default the engine's assumed share of income.
    annual_savings: Option<f64>,
}

#[derive(Deserialize, JsonSchema)]
struct Rebalance {
    /// The person's profile, as the users service takes it.
    profile: Value,
    /// What they hold now: an amount (any unit) for each of Stocks, Bonds, Cash, RealEstate.
    current: BTreeMap<String, f64>,
}

/// `kernel` with [`plugin`] added.
pub fn with_engine(kernel: &Kernel) -> Kernel {
    kernel.with_plugins(vec![plugin()])
}

/// `finance.describe`, `finance.projection` and `finance.rebalance`.
pub fn plugin() -> Plugin {
    let functions: Vec<Arc<dyn KernelFunction>> = vec![
        NativeFunction::from_fn(
            PLUGIN,
            "describe",
            "The person's profile and the finance engine's reading of it: risk score and target mix.",
            |args: Describe| async move { Ok(figures::describe(&person(args.profile)?)) },
        ),
        NativeFunction::from_fn(
            PLUGIN,
            "projection",
            "The person's wealth projected by the finance engine over simulated markets.",
            |args: Project| async move {
                let person = person(args.profile)?;
                Ok(figures::projection(&person, args.years, args.annual_savings))
            },
        ),
        NativeFunction::from_fn(
            PLUGIN,
            "rebalance",
            "What the person holds now against the engine's target mix, and what to buy, sell or hold.",
            |args: Rebalance| async move {
                let current =
                    Allocation::from_named(args.current.iter().map(|(c, a)| (c.as_str(), *a)))
                        .map_err(|e| format!("current: {e}"))?;
                Ok(figures::rebalance(&person(args.profile)?, &current))
            },
        ),
    ];
    Plugin::new(PLUGIN, functions)
}

/// The profile argument read and checked as the users service would check it; a row that
/// breaks a rule is named with the field.
fn person(profile: Value) -> Result<UserProfile, String> {
    let input: UserProfileInput =
        serde_json::from_value(profile).map_err(|e| format!("profile: {e}"))?;
    input.validate().map_err(|e| format!("profile: {e}"))?;
    let now = Utc::now();
    Ok(UserProfile {
        id: Uuid::nil(),
        owner: "eval".into(),
        profile: input,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}
