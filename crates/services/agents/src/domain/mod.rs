//! Durable runs. A run is a checked plan of tool calls; the runner executes one step each time a
//! run's event reaches it, and records the step's output with the next event in one
//! transaction. So a run moves on event by event, and after a crash the event not yet handled
//! is delivered again and the runner resumes at the first step not recorded; a recorded step,
//! and any orders it placed, are never repeated.
//!
//! A step whose tool changes something never runs on the runner's say: the run waits for the
//! person, who approves (perhaps with edited arguments) or rejects; no answer by the deadline is
//! a rejection. A rejected step never runs.
//!
//! - `plan`: checking a plan and resolving its references; `tools`: what the tools take;
//! - `catalogue`: the shipped agents' plans; `planner`: a plan proposed by the model;
//! - `execute`: what each tool does when its step runs;
//! - `rebalance`, `retirement`, `report`, `analyst`: what the tools compute and write.

mod analyst;
pub mod catalogue;
mod execute;
mod plan;
mod planner;
mod rebalance;
mod report;
mod retirement;
mod tools;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use miyagi_domain::agents::{RunChanged, RunState};
use miyagi_kernel::{Kernel, KernelError};
use miyagi_markets::history::DailyCloses;
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::config::AgentsConfig;
use serde_json::{json, Value};
use uuid::Uuid;

use execute::StepError;
pub use plan::PlanFault;
pub(crate) use tools::tool_name_schema;
use tools::ToolName;

use crate::events;
use crate::model::{Agent, NewRun, PlanStep, ProposedPlan, Run, Tool};
use crate::store::{AgentsStore, Effects, NewRunRow, RunRecord, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plan or the inputs cannot run: each fault with where it is.
    #[error("the plan cannot run")]
    Invalid(Vec<PlanFault>),
    #[error("no chat model is configured (set `models.local = true` or `models.chat_endpoint`): the planner needs one")]
    NoModel,
    #[error(transparent)]
    Model(#[from] KernelError),
}

/// Whether a tool waits for the person; unknown tools do not run at all.
pub fn needs_approval(tool: &str) -> bool {
    ToolName::parse(tool).is_some_and(ToolName::needs_approval)
}

/// What the tools read and write with besides the service's own tables.
#[derive(Clone)]
pub struct Sources {
    /// Writes reports and analyses, and proposes plans.
    pub kernel: Option<Kernel>,
    /// The person's documents (the documents service, in this process).
    pub library: Option<Arc<dyn Retriever>>,
    /// Daily closes of the traded stocks.
    pub history: Arc<DailyCloses>,
}

#[derive(Clone)]
pub struct Agents {
    pub store: AgentsStore,
    kernel: Option<Kernel>,
    library: Option<Arc<dyn Retriever>>,
    history: Arc<DailyCloses>,
    settings: AgentsConfig,
}

impl Agents {
    pub fn new(store: AgentsStore, sources: Sources, settings: AgentsConfig) -> Self {
        Self {
            store,
            kernel: sources.kernel,
            library: sources.library,
            history: sources.history,
            settings,
        }
    }

    pub fn agents(&self) -> Vec<Agent> {
        catalogue::agents()
    }

    pub fn tools(&self) -> Vec<Tool> {
        ToolName::ALL
            .into_iter()
            .map(|tool| Tool {
                name: tool.name().into(),
                description: tool.description().into(),
                parameters: tool.parameters().clone(),
                needs_approval: tool.needs_approval(),
            })
            .collect()
    }

    /// Checks the run's plan whole and stores it; started, the runner takes it from its event.
    pub async fn create(&self, owner: &str, request: NewRun) -> Result<Run, AgentsError> {
        let inputs = request.inputs.unwrap_or_else(|| json!({}));
        let steps = match (request.agent.as_str(), request.plan) {
            (catalogue::CUSTOM, Some(plan)) => plan,
            (catalogue::CUSTOM, None) => return Err(invalid("plan", "a custom run needs a plan")),
            (_, Some(_)) => {
                return Err(invalid(
                    "plan",
                    "only a `custom` run takes a plan; a shipped agent plans from its inputs",
                ))
            }
            (agent, None) => catalogue::plan(agent, &inputs).map_err(|message| {
                let field = if catalogue::goal(agent).is_some() {
                    "inputs"
                } else {
                    "agent"
                };
                invalid(field, message)
            })?,
        };
        check(&steps)?;
        let goal = request
            .goal
            .or_else(|| catalogue::goal(&request.agent).map(str::to_string))
            .unwrap_or_else(|| format!("Run a plan of {} steps", steps.len()));
        let state = if request.start.unwrap_or(true) {
            RunState::Running
        } else {
            RunState::Planned
        };
        let id = Uuid::now_v7();
        let event = changed(id, owner, &request.agent, state, None, "created");
        let row = NewRunRow {
            id,
            owner,
            agent: &request.agent,
            goal: &goal,
            state,
        };
        self.store.create(&row, &steps, &event).await?;
        Ok(self.store.run(owner, id).await?)
    }

    pub async fn replan(
        &self,
        owner: &str,
        id: Uuid,
        steps: Vec<PlanStep>,
    ) -> Result<Run, AgentsError> {
        check(&steps)?;
        let run = self.store.run(owner, id).await?;
        let event = changed(
            id,
            owner,
            &run.agent,
            RunState::Planned,
            None,
            "plan edited",
        );
        self.store.replace_plan(owner, id, &steps, &event).await?;
        Ok(self.store.run(owner, id).await?)
    }

    pub async fn begin(&self, owner: &str, id: Uuid) -> Result<Run, AgentsError> {
        self.transition(
            owner,
            id,
            &[RunState::Planned],
            RunState::Running,
            None,
            "started",
        )
        .await
    }

    pub async fn cancel(&self, owner: &str, id: Uuid) -> Result<Run, AgentsError> {
        self.transition(
            owner,
            id,
            &[
                RunState::Planned,
                RunState::Running,
                RunState::WaitingApproval,
            ],
            RunState::Cancelled,
            Some(&format!("cancelled by {owner}")),
            "cancelled",
        )
        .await
    }

    async fn transition(
        &self,
        owner: &str,
        id: Uuid,
        from: &[RunState],
        to: RunState,
        reason: Option<&str>,
        what: &str,
    ) -> Result<Run, AgentsError> {
        let run = self.store.run(owner, id).await?;
        let event = changed(id, owner, &run.agent, to, None, what);
        self.store
            .transition(owner, id, from, to, reason, &event)
            .await?;
        Ok(self.store.run(owner, id).await?)
    }

    /// The person's answer to the step their run waits on. Edited arguments are checked like a
    /// plan's before they are accepted.
    pub async fn decide(
        &self,
        owner: &str,
        id: Uuid,
        decision: crate::model::Decision,
        by: &str,
    ) -> Result<Run, AgentsError> {
        let run = self.store.run(owner, id).await?;
        let step = run
            .steps
            .get(decision.step)
            .ok_or_else(|| invalid("step", format!("the run has no step {}", decision.step)))?;
        let arguments = match decision.arguments {
            Some(edited) if decision.approve => {
                let tool = ToolName::parse(&step.tool).expect("stored plans were checked");
                let faults = tool.check(&edited);
                if !faults.is_empty() {
                    return Err(AgentsError::Invalid(
                        faults
                            .into_iter()
                            .map(|message| PlanFault {
                                field: "arguments".into(),
                                message,
                            })
                            .collect(),
                    ));
                }
                edited
            }
            _ => step.resolved.clone().unwrap_or(Value::Null),
        };
        let (state, what) = if decision.approve {
            (
                RunState::Running,
                format!("step {} approved by {by}", decision.step),
            )
        } else {
            (
                RunState::Cancelled,
                format!("step {} rejected by {by}", decision.step),
            )
        };
        let event = changed(id, owner, &run.agent, state, Some(decision.step), &what);
        self.store
            .decide(
                owner,
                id,
                decision.step,
                decision.approve,
                by,
                &arguments,
                decision.note.as_deref(),
                &event,
            )
            .await?;
        Ok(self.store.run(owner, id).await?)
    }

    /// Rejects every approval past its deadline; how many.
    pub async fn reject_overdue(&self) -> Result<usize, AgentsError> {
        let overdue = self.store.overdue(Utc::now()).await?;
        let mut rejected = 0;
        for (id, owner, step) in overdue {
            let decision = crate::model::Decision {
                step,
                approve: false,
                arguments: None,
                note: Some("no answer before the deadline".into()),
            };
            match self.decide(&owner, id, decision, "deadline").await {
                Ok(_) => rejected += 1,
                // Decided or cancelled meanwhile.
                Err(AgentsError::Store(StoreError::Conflict(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(rejected)
    }

    pub async fn propose(&self, goal: &str) -> Result<ProposedPlan, AgentsError> {
        let kernel = self.kernel.as_ref().ok_or(AgentsError::NoModel)?;
        Ok(planner::propose(kernel, goal).await?)
    }

    /// Runs the run's next step, if it is running and has one; records what came of it.
    pub async fn advance(&self, id: Uuid) -> Result<(), AgentsError> {
        let Some(run) = self.store.load(id).await? else {
            return Ok(());
        };
        if run.state != RunState::Running {
            return Ok(());
        }
        let Some(step) = run.steps.iter().find(|s| s.state == "pending") else {
            let event = changed(
                id,
                &run.owner,
                &run.agent,
                RunState::Completed,
                None,
                "completed",
            );
            return match self
                .store
                .transition(
                    &run.owner,
                    id,
                    &[RunState::Running],
                    RunState::Completed,
                    None,
                    &event,
                )
                .await
            {
                Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
                Err(e) => Err(e.into()),
            };
        };
        let position = step.position;
        let tool = ToolName::parse(&step.tool).expect("stored plans were checked");
        let arguments = if step.approved == Some(true) {
            step.resolved.clone().unwrap_or_default()
        } else {
            let outputs: Vec<Option<Value>> = run.steps.iter().map(|s| s.output.clone()).collect();
            match plan::resolve(&step.arguments, &outputs[..position]) {
                Ok(arguments) => arguments,
                Err(message) => return self.fail(&run, position, &message).await,
            }
        };
        let faults = tool.check(&arguments);
        if !faults.is_empty() {
            return self
                .fail(
                    &run,
                    position,
                    &format!("bad arguments: {}", faults.join("; ")),
                )
                .await;
        }
        if tool.needs_approval() && step.approved != Some(true) && !nothing_to_do(tool, &arguments)
        {
            let deadline = Utc::now() + Duration::from_secs(self.settings.approval_secs);
            let event = changed(
                id,
                &run.owner,
                &run.agent,
                RunState::WaitingApproval,
                Some(position),
                "waiting for approval",
            );
            return Ok(self
                .store
                .await_approval(&run, position, &arguments, deadline, &event)
                .await?);
        }
        let mut last_error = String::new();
        loop {
            let attempts = self.store.attempt(id, position).await?;
            if attempts > self.settings.step_attempts {
                let message = format!(
                    "gave up after {} attempts: {last_error}",
                    self.settings.step_attempts
                );
                return self.fail(&run, position, &message).await;
            }
            let timeout = Duration::from_secs(self.settings.step_timeout_secs);
            let outcome =
                tokio::time::timeout(timeout, self.execute(tool, &run, position, &arguments)).await;
            match outcome {
                Ok(Ok(executed)) => {
                    let event = changed(
                        id,
                        &run.owner,
                        &run.agent,
                        RunState::Running,
                        Some(position),
                        &format!("{} done", tool.name()),
                    );
                    let effects = Effects {
                        orders: executed.orders.as_ref(),
                    };
                    self.store
                        .record(
                            &run,
                            position,
                            &arguments,
                            &executed.output,
                            effects,
                            &event,
                        )
                        .await?;
                    return Ok(());
                }
                Ok(Err(StepError::Permanent(message))) => {
                    return self.fail(&run, position, &message).await
                }
                Ok(Err(StepError::Transient(message))) => last_error = message,
                Err(_) => last_error = format!("no answer within {timeout:?}"),
            }
            tracing::warn!(run = %id, position, attempts, error = %last_error, "a step failed; trying again");
        }
    }

    async fn fail(
        &self,
        run: &RunRecord,
        position: usize,
        message: &str,
    ) -> Result<(), AgentsError> {
        let event = changed(
            run.id,
            &run.owner,
            &run.agent,
            RunState::Failed,
            Some(position),
            message,
        );
        match self.store.fail(run, position, message, &event).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A change-making step with nothing to change (no orders) runs without asking.
fn nothing_to_do(tool: ToolName, arguments: &Value) -> bool {
    tool == ToolName::PlaceOrders && arguments["orders"].as_array().is_some_and(Vec::is_empty)
}

fn check(steps: &[PlanStep]) -> Result<(), AgentsError> {
    let faults = plan::check(steps);
    if faults.is_empty() {
        Ok(())
    } else {
        Err(AgentsError::Invalid(faults))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AgentsError {
    AgentsError::Invalid(vec![PlanFault {
        field: field.into(),
        message: message.into(),
    }])
}

fn changed(
    id: Uuid,
    owner: &str,
    agent: &str,
    state: RunState,
    step: Option<usize>,
    what: &str,
) -> miyagi_platform::events::CloudEvent {
    events::run_changed(&RunChanged {
        run_id: id,
        owner: owner.into(),
        agent: agent.into(),
        state,
        step,
        what: what.into(),
    })
}
