//! What the API takes and gives: agents, their plans, runs with their step timeline, and
//! decisions on the steps that wait for the person.

use chrono::{DateTime, Utc};
use miyagi_domain::agents::RunState;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

/// An agent Miyagi ships: what it does and the inputs it takes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub name: String,
    pub title: String,
    pub description: String,
    /// JSON Schema of the `inputs` a run of it takes.
    pub inputs: Value,
}

/// A tool a plan may use.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
    /// It changes something (places orders): the run waits for the person before it runs.
    pub needs_approval: bool,
}

/// One step of a plan. An argument may be an earlier step's output, `{"$output": 0}`, or one
/// field of it, `{"$output": 0, "field": "orders"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanStep {
    /// One of `/api/v1/agents/tools`. (A plan the model proposes may name another; its
    /// `problems` say so, and it cannot run until that is changed.)
    #[validate(length(min = 1, max = 60))]
    #[schema(schema_with = crate::domain::tool_name_schema)]
    pub tool: String,
    /// Why the step is there, in a few words.
    #[validate(length(max = 300), custom(function = "miyagi_domain::text::printable"))]
    #[serde(default)]
    #[schema(
        max_length = 300,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub purpose: String,
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub arguments: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Start a run: of a shipped agent with its inputs, or of a plan of your own (`agent`:
/// `custom`, with `plan`).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRun {
    /// `rebalancer`, `retirement-planner` or `custom`.
    #[schema(example = "rebalancer")]
    pub agent: String,
    /// What the run is for, in the person's words (default: the agent's description).
    #[validate(length(max = 500), custom(function = "miyagi_domain::text::not_blank"))]
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub goal: Option<String>,
    /// The agent's inputs; see `/api/v1/agents`.
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<Value>,
    /// The steps of a `custom` run.
    #[validate(length(min = 1, max = 20), nested)]
    #[schema(min_items = 1, max_items = 20)]
    pub plan: Option<Vec<PlanStep>>,
    /// `false` keeps the run `planned`, for its plan to be read and edited before it starts
    /// (default `true`).
    pub start: Option<bool>,
}

/// A new plan for a run that has not started.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPlan {
    #[validate(length(min = 1, max = 20), nested)]
    #[schema(min_items = 1, max_items = 20)]
    pub steps: Vec<PlanStep>,
}

/// A goal for the model to plan.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    #[validate(
        length(min = 3, max = 500),
        custom(function = "miyagi_domain::text::not_blank")
    )]
    #[schema(
        min_length = 3,
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$",
        example = "Rebalance my paper portfolio"
    )]
    pub goal: String,
}

/// A plan the model proposed, checked against the tools.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposedPlan {
    pub goal: String,
    pub steps: Vec<PlanStep>,
    /// What must change before the plan can run (`plan[1].tool: …`); empty when it can run as
    /// it is.
    pub problems: Vec<String>,
}

/// The person's answer to a step waiting for approval.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    /// The step decided on (the run's waiting step).
    #[schema(minimum = 0, maximum = 19)]
    pub step: usize,
    pub approve: bool,
    /// Arguments to run the step with instead of the proposed ones (say, fewer orders).
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<Value>,
    #[validate(length(max = 500), custom(function = "miyagi_domain::text::printable"))]
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub note: Option<String>,
}

/// A run and its step timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: Uuid,
    pub agent: String,
    pub goal: String,
    #[schema(value_type = String, example = "waiting_approval")]
    pub state: RunState,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub position: usize,
    pub tool: String,
    pub purpose: String,
    /// As planned, references to earlier outputs included.
    #[schema(value_type = Object)]
    pub arguments: Value,
    /// `pending`, `waiting_approval`, `done`, `failed`, `rejected` or `skipped`.
    pub state: String,
    pub needs_approval: bool,
    /// The arguments it ran with, or asks approval to run with.
    #[schema(value_type = Option<Object>)]
    pub resolved: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<String>,
    pub attempts: u32,
    /// When an unanswered approval counts as a rejection.
    pub deadline: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub decision: Option<DecisionRecord>,
    /// Orders the step placed, as the markets service last reported them.
    pub orders: Vec<PlacedOrder>,
}

/// Who decided on a step, when, and with which arguments.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    pub approved: bool,
    pub by: String,
    pub at: DateTime<Utc>,
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<Value>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub id: Uuid,
    pub symbol: String,
    pub side: String,
    pub qty: u64,
    /// `requested` until the markets service answers, then its status (`filled`, `rejected`, …).
    pub status: String,
    pub filled: u64,
    pub average_price: Option<f64>,
    pub reason: Option<String>,
}
