//! Evaluation of prompts, in the manner of Prompt flow's batch runs: a [`suite::Suite`] names a
//! JSONL dataset, prompt variants (Semantic Kernel prompt directories or prompt YAML) and models;
//! [`run::run`] sends every row through every variant on every model and holds each answer to
//! the suite's [`check`]s (exact, contains, regex, JSON schema, numbers the answer was given,
//! citations that exist, a model-graded rubric), writing each result as it is known so a run is
//! resumed, not repeated; [`report`] adds a run up, compares it with an earlier one and writes
//! its HTML. `miyagi eval` is the command line over it. A Prompt flow variant's tool nodes call
//! the kernel's functions; [`finance`] gives them the finance engine.

pub mod check;
pub mod finance;
pub mod report;
pub mod run;
pub mod suite;

pub use suite::{Check, ModelSpec, Suite};
