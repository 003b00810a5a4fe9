//! Advice: the payload of `miyagi.advice.generated.v1`, which tells other services (and the
//! dashboard) that a user has new advice and where to read it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why advice was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AdviceTrigger {
    /// The person asked (`POST /personalize` and friends).
    Request,
    /// Their profile changed, and the advisor refreshed their advice on its own.
    ProfileUpdated,
}

impl AdviceTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::ProfileUpdated => "profile-updated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdviceGenerated {
    pub advice_id: Uuid,
    pub owner: String,
    /// The profile the advice is for.
    pub user_id: Uuid,
    pub trigger: AdviceTrigger,
    pub created_at: DateTime<Utc>,
}
