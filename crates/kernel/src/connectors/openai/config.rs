//! Where the connector sends its calls and how it authenticates, kept apart from the client so
//! that services can build and pass a configuration without touching HTTP.

use std::time::Duration;

/// How to reach and authenticate to the endpoint.
#[derive(Clone)]
pub enum Endpoint {
    /// OpenAI, Ollama, vLLM, llama.cpp: `{base_url}/chat/completions`, optional bearer key.
    OpenAi {
        base_url: String,
        api_key: Option<String>,
    },
    /// Azure OpenAI: `{endpoint}/openai/deployments/{deployment}/…?api-version=…`.
    Azure {
        endpoint: String,
        deployment: String,
        api_version: String,
        auth: AzureAuth,
    },
}

#[derive(Clone)]
pub enum AzureAuth {
    /// The resource key, sent as the `api-key` header.
    ApiKey(String),
    /// An Entra ID access token, sent as `Authorization: Bearer`.
    Bearer(String),
}

#[derive(Clone)]
pub struct OpenAiConfig {
    pub endpoint: Endpoint,
    /// Model name sent in the body (for Azure the deployment decides; this names it in records).
    pub model: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    /// Embedding size, for [`EmbeddingModel::dimensions`](crate::chat::EmbeddingModel::dimensions).
    pub dimensions: usize,
}

impl OpenAiConfig {
    pub fn openai(base_url: &str, model: &str, api_key: Option<&str>) -> Self {
        Self {
            endpoint: Endpoint::OpenAi {
                base_url: base_url.trim_end_matches('/').into(),
                api_key: api_key.map(Into::into),
            },
            model: model.into(),
            timeout: Duration::from_secs(60),
            max_retries: 3,
            requests_per_minute: None,
            tokens_per_minute: None,
            dimensions: 1536,
        }
    }

    pub fn azure(endpoint: &str, deployment: &str, api_version: &str, auth: AzureAuth) -> Self {
        Self {
            endpoint: Endpoint::Azure {
                endpoint: endpoint.trim_end_matches('/').into(),
                deployment: deployment.into(),
                api_version: api_version.into(),
                auth,
            },
            ..Self::openai("", deployment, None)
        }
    }

    /// The URL of an operation (`chat/completions`, `embeddings`).
    pub(super) fn url(&self, operation: &str) -> String {
        match &self.endpoint {
            Endpoint::OpenAi { base_url, .. } => format!("{base_url}/{operation}"),
            Endpoint::Azure {
                endpoint,
                deployment,
                api_version,
                ..
            } => {
                format!("{endpoint}/openai/deployments/{deployment}/{operation}?api-version={api_version}")
            }
        }
    }

    /// `gen_ai.system` in the OpenTelemetry conventions.
    pub(super) fn system(&self) -> &'static str {
        match self.endpoint {
            Endpoint::OpenAi { .. } => "openai",
            Endpoint::Azure { .. } => "az.ai.openai",
        }
    }

    pub(super) fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.endpoint {
            Endpoint::OpenAi {
                api_key: Some(key), ..
            } => request.bearer_auth(key),
            Endpoint::OpenAi { api_key: None, .. } => request,
            Endpoint::Azure {
                auth: AzureAuth::ApiKey(key),
                ..
            } => request.header("api-key", key),
            Endpoint::Azure {
                auth: AzureAuth::Bearer(token),
                ..
            } => request.bearer_auth(token),
        }
    }
}
