//! Who wrote the answer a person is shown. The checks the model's words pass first are
//! `miyagi_domain::prose`'s, shared with every other writer; an answer with nothing left that
//! the question did not already say is not shown as the model's words: the coach quotes its best
//! source instead, marked as such.

/// Who wrote the answer a person is shown.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WrittenBy {
    /// The model's own words, checked (and cut where they repeated themselves).
    Model,
    /// The model's words did not pass; the answer quotes the most relevant source instead.
    Fallback,
}
