use miyagi_kernel::KernelError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CopilotError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no chat model is configured (set `models.local = true` or `models.chat_endpoint`)")]
    NoModel,
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("retrieval failed: {0:#}")]
    Retrieval(anyhow::Error),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CopilotError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            e => Self::Store(e),
        }
    }
}
