//! The kernel's view of the scripted OpenAI-protocol server from `miyagi-testing`: a client of
//! it with short timeouts.

use std::time::Duration;

use miyagi_kernel::connectors::openai::{OpenAiClient, OpenAiConfig};
pub use miyagi_testing::openai::{
    completion, streamed, streamed_tool_calls, tool_calls, Reply, ScriptedLlm as MockLlm,
};

pub trait Client {
    /// An OpenAI-style client of this server (no retries unless asked, short timeout).
    fn client(&self) -> OpenAiClient;
    fn config(&self) -> OpenAiConfig;
}

impl Client for MockLlm {
    fn client(&self) -> OpenAiClient {
        OpenAiClient::new(self.config()).unwrap()
    }

    fn config(&self) -> OpenAiConfig {
        let mut config =
            OpenAiConfig::openai(&format!("{}/v1", self.base), "gpt-test", Some("sk-test"));
        config.max_retries = 2;
        config.timeout = Duration::from_secs(2);
        config
    }
}
