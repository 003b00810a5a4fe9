//! Retrieval over HTTP: how a service that grounds its answers (the advisor) reaches passages
//! held by the documents service when the two run in different processes (`miyagi serve`). The
//! documents service serves [`LIBRARY_PASSAGES_PATH`]; [`HttpRetriever`] is its client, the
//! distributed implementation of [`Retriever`], and the wire types are here so both ends speak
//! the same ones.
//!
//! Only a shared collection is served this way (the investing library, under its reserved
//! owner). A person's own documents are retrieved in that person's own request, with their own
//! credentials, never fetched by one service on someone else's behalf.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::{
    cite::Passage,
    retrieve::{Mode, RetrievalSettings, Retriever},
};

/// Where the documents service answers [`PassagesRequest`]s for the shared library.
pub const LIBRARY_PASSAGES_PATH: &str = "/api/v1/library/passages";

/// A query for passages, with the retrieval settings of [`RetrievalSettings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PassagesRequest {
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub query: String,
    /// Only this collection of the library.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9_-]{1,64}$"))]
    pub collection: Option<String>,
    /// `hybrid` (default), `vector` or `keyword`.
    pub mode: Option<Mode>,
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50))]
    pub limit: Option<usize>,
    /// Minimum cosine similarity between the query and a passage (-1 to 1).
    #[validate(range(min = -1.0, max = 1.0, message = "must be between -1 and 1"))]
    #[cfg_attr(feature = "openapi", schema(minimum = -1, maximum = 1))]
    pub min_relevance: Option<f32>,
    /// Most tokens the passages may hold together.
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100000))]
    pub token_budget: Option<usize>,
}

impl PassagesRequest {
    pub fn new(query: &str, collection: Option<&str>, settings: &RetrievalSettings) -> Self {
        Self {
            query: query.to_string(),
            collection: collection.map(str::to_string),
            mode: Some(settings.mode),
            limit: Some(settings.limit),
            min_relevance: Some(settings.min_relevance),
            token_budget: settings.token_budget,
        }
    }

    /// The settings asked for, defaults where left out.
    pub fn settings(&self) -> RetrievalSettings {
        RetrievalSettings::or_defaults(self.mode, self.limit, self.min_relevance, self.token_budget)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PassagesResponse {
    /// Best first.
    pub passages: Vec<Passage>,
}

/// The passages of one owner's shared collection, fetched from the documents service.
pub struct HttpRetriever {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    owner: String,
}

impl HttpRetriever {
    /// A client of the documents service at `base` (`http://documents:8080`) serving `owner`'s
    /// passages; `api_key` is sent as `X-API-Key` when the service requires credentials.
    pub fn new(base: &str, api_key: Option<String>, owner: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            url: format!("{}{LIBRARY_PASSAGES_PATH}", base.trim_end_matches('/')),
            api_key,
            owner: owner.to_string(),
        })
    }
}

#[async_trait]
impl Retriever for HttpRetriever {
    async fn retrieve(
        &self,
        owner: &str,
        query: &str,
        collection: Option<&str>,
        settings: &RetrievalSettings,
    ) -> anyhow::Result<Vec<Passage>> {
        anyhow::ensure!(
            owner == self.owner,
            "only {}'s passages are retrieved over HTTP, not {owner}'s",
            self.owner
        );
        let mut request = self
            .http
            .post(&self.url)
            .json(&PassagesRequest::new(query, collection, settings));
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            anyhow::bail!("{} answered {status}: {detail}", self.url);
        }
        Ok(response.json::<PassagesResponse>().await?.passages)
    }
}
