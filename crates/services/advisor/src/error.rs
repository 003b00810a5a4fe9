//! What can go wrong when asking for advice, in terms the API maps to problem+json and the
//! profile consumer maps to retry or dead-letter.

use miyagi_kernel::KernelError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdvisorError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no chat model is configured (set `models.local = true` or an OpenAI endpoint)")]
    NoModel,
    #[error("advice not found")]
    NotFound,
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
