//! Long-term memory for the coach and grounding for advice.
//!
//! - [`extract`]: text out of plain text, Markdown, HTML and PDF files.
//! - [`chunk`]: token-aware chunks that respect headings and paragraphs.
//! - [`index`]: the vector index seam and its exact, HNSW and pgvector implementations.
//! - [`retrieve`]: keyword + vector fusion, relevance threshold, limit and token budget.
//! - [`cite`]: citations of the retrieved text, constrained and verified.
//! - [`ask`]: grounded answers to a question about the person's documents, cited.
//! - [`summarise`]: map-reduce summaries of documents longer than a model's context, cited.
//! - [`remote`]: retrieval over HTTP, for services that run apart from the documents service.
//!
//! Storage of documents and chunks, and the events around ingestion, belong to the documents
//! service; this crate holds no state of its own beyond an index.

pub mod ask;
pub mod chunk;
pub mod cite;
pub mod extract;
pub mod index;
pub mod remote;
pub mod retrieve;
pub mod summarise;
#[cfg(feature = "testing")]
pub mod testing;
