use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobConfig {
    /// `file` (a folder in `data_dir`), `file:///abs/path`, `s3://bucket/prefix` or `az://container/prefix`.
    pub url: String,
    /// Extra object_store options (credentials, region, endpoint); values are treated as secrets.
    #[serde(default)]
    pub options: BTreeMap<String, Secret>,
}
