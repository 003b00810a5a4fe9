//! Miyagi's kernel: what Semantic Kernel is to the original Miyagi.
//!
//! - [`chat`]: the chat and embedding model traits every provider implements.
//! - [`connectors::openai`]: OpenAI-compatible HTTP (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp).
//!   Its [`wire`](connectors::openai::wire) types are the OpenAI protocol, also written by the llm service.
//! - [`template`]: prompt templates in Semantic Kernel syntax, Handlebars prompt YAML and Jinja2.
//! - [`function`]: plugins — native Rust functions and prompt functions — with JSON-schema parameters.
//! - [`kernel`]: the [`Kernel`] that renders, invokes, auto-calls tools, and returns structured output.
//! - [`flow`]: Prompt flow's `flow.dag.yaml` (inputs, `llm` and `prompt` nodes, outputs), run unchanged.
//! - [`filter`]: hooks around rendering and function calls (telemetry, redaction, approval gates).
//! - [`image`]: the image model trait (the OpenAI images connector implements it).
//! - [`usage`], [`cache`]: a token/cost ledger and an exact-match response cache.
//! - [`limits`]: per-user calls per minute and tokens per day.
//! - [`telemetry`]: the span and token counters every model call reports.

pub mod cache;
pub mod chat;
pub mod connectors;
pub mod error;
pub mod filter;
pub mod flow;
pub mod function;
pub mod image;
pub mod kernel;
pub mod limits;
pub mod structured;
pub mod telemetry;
pub mod template;
pub mod usage;

pub use chat::{
    ChatMessage, ChatModel, ChatRequest, ChatResponse, EmbeddingModel, ExecutionSettings, Role,
};
pub use error::KernelError;
pub use function::{Arguments, KernelFunction, NativeFunction, Plugin};
pub use image::{GeneratedImage, ImageModel, ImageRequest, ImageSize};
pub use kernel::{Kernel, ToolOutcome};
