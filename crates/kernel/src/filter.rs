//! Hooks around prompt rendering and function invocation: telemetry, redaction, approval gates.
//! Every hook may change what passes through it, or stop it with an error.

use async_trait::async_trait;
use serde_json::Value;

use crate::{function::Arguments, KernelError};

#[async_trait]
pub trait Filter: Send + Sync {
    /// After a prompt function's template is rendered, before it is sent.
    async fn prompt_rendered(
        &self,
        _function: &str,
        _prompt: &mut String,
    ) -> Result<(), KernelError> {
        Ok(())
    }

    /// Before a function runs. Return [`KernelError::Denied`] to stop it (an approval gate):
    /// in a tool-calling loop the model is told it was denied.
    async fn function_invoking(
        &self,
        _function: &str,
        _args: &mut Arguments,
    ) -> Result<(), KernelError> {
        Ok(())
    }

    /// After a function ran, before its result is used.
    async fn function_invoked(
        &self,
        _function: &str,
        _result: &mut Value,
    ) -> Result<(), KernelError> {
        Ok(())
    }
}
