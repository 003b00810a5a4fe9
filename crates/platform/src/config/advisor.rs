use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorConfig {
    /// Folder of Semantic Kernel prompt directories (`advisor/Personalize/skprompt.txt` …),
    /// read on every request so an edited prompt takes effect without a rebuild or restart.
    /// When the folder does not exist, the prompts built into the binary are used.
    pub prompts_dir: PathBuf,
    /// The documents service's address (`http://documents:8080`), for an advisor that runs
    /// apart from it (`miyagi serve advisor`): the library advice cites is then fetched over
    /// HTTP. Unset, the advisor runs in the same process as `documents` and reads it directly.
    pub library_url: Option<String>,
    /// The API key the advisor presents to `library_url`, when that service requires one.
    pub library_api_key: Option<Secret>,
}

impl AdvisorConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match &self.library_url {
            Some(url) => super::http_address(
                "advisor.library_url",
                url,
                "the documents service's http:// or https:// address, such as http://documents:8080",
            ),
            None => Ok(()),
        }
    }
}
