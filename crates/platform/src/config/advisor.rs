use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorConfig {
    /// Folder of Semantic Kernel prompt directories (`advisor/Personalize/skprompt.txt` …),
    /// read on every request so an edited prompt takes effect without a rebuild or restart.
    /// When the folder does not exist, the prompts built into the binary are used.
    pub prompts_dir: PathBuf,
}
