//! Advice: the payload of `miyagi.advice.generated.v1`, which tells other services (and the
//! dashboard) that a user has new advice, where to read it, and what it says, so a service that
//! speaks of it (the copilot's coach) keeps a copy instead of calling the advisor.

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
    /// The advisor's words. Empty in events published before it was carried.
    #[serde(default)]
    pub narrative: String,
    /// One line per recommendation, the asset classes then the stocks: the engine's action and
    /// numbers, then the model's note (`Stocks: buy: 55% now, 70% target. …`).
    #[serde(default)]
    pub recommendations: Vec<String>,
    /// Cards of the advice's figures (its target mix), for the images service to draw beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<crate::image::Card>,
}
