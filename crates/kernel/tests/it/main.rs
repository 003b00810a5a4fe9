//! Kernel tests against a real local HTTP server that speaks the OpenAI and Azure OpenAI protocols.

mod connector;
mod flows;
mod images;
mod mock;
mod templates;
mod tools;
