//! User profiles: who a person is financially, and what they like to hear advice from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::text::printable;

/// How much market risk a person says they can stomach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RiskTolerance {
    Conservative,
    Moderate,
    Aggressive,
}

impl RiskTolerance {
    pub const ALL: [RiskTolerance; 3] = [Self::Conservative, Self::Moderate, Self::Aggressive];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Conservative => "Conservative",
            Self::Moderate => "Moderate",
            Self::Aggressive => "Aggressive",
        }
    }
}

impl std::str::FromStr for RiskTolerance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown risk tolerance {s:?}"))
    }
}

/// Upper bound for money fields: large enough for any household, small enough that the
/// finance engine's arithmetic can never overflow into infinities.
pub const MAX_AMOUNT: f64 = 1e12;

/// What a person writes when creating or replacing their profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "retirement_after_adulthood"))]
pub struct UserProfileInput {
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "printable")
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub name: String,
    #[validate(range(min = 18, max = 120, message = "must be between 18 and 120"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 18, maximum = 120))]
    pub age: u32,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1e12))]
    pub annual_household_income: f64,
    #[serde(default)]
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1e12))]
    pub assets: f64,
    #[serde(default)]
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1e12))]
    pub liabilities: f64,
    pub risk_tolerance: RiskTolerance,
    #[validate(range(min = 30, max = 100, message = "must be between 30 and 100"))]
    #[cfg_attr(feature = "openapi", schema(minimum = 30, maximum = 100))]
    pub retirement_age: u32,
    #[serde(default)]
    #[validate(
        length(max = 10, message = "at most 10 goals"),
        custom(function = "short_items")
    )]
    #[cfg_attr(feature = "openapi", schema(schema_with = short_items_schema))]
    pub goals: Vec<String>,
    #[serde(default)]
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "printable")
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 100,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub favorite_advisor: Option<String>,
    #[serde(default)]
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "printable")
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub favorite_book: Option<String>,
    #[serde(default)]
    #[validate(
        length(max = 10, message = "at most 10 hobbies"),
        custom(function = "short_items")
    )]
    #[cfg_attr(feature = "openapi", schema(schema_with = short_items_schema))]
    pub hobbies: Vec<String>,
}

/// Goals and hobbies as the OpenAPI document states them: what [`short_items`] and the
/// field's length rule accept.
#[cfg(feature = "openapi")]
fn short_items_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(200))
                .pattern(Some(crate::text::NOT_BLANK_PATTERN)),
        )
        .max_items(Some(10))
        .build()
}

fn short_items(items: &[String]) -> Result<(), ValidationError> {
    if items
        .iter()
        .any(|i| i.trim().is_empty() || i.chars().count() > 200)
    {
        return Err(ValidationError::new("item_length")
            .with_message("each item must be 1 to 200 characters".into()));
    }
    items.iter().try_for_each(|i| printable(i))
}

fn retirement_after_adulthood(p: &UserProfileInput) -> Result<(), ValidationError> {
    // A retirement age below today's age is fine (already retired); one below adulthood is not.
    if p.retirement_age < 18 {
        return Err(ValidationError::new("retirement_age")
            .with_message("retirementAge must be at least 18".into()));
    }
    Ok(())
}

/// A stored profile: the input plus identity, ownership and a version that changes on every write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    /// The profile id; other services call it `userId`.
    pub id: Uuid,
    /// The principal that owns this profile; only they can see or change it.
    pub owner: String,
    #[serde(flatten)]
    pub profile: UserProfileInput,
    /// Incremented on every update; sent as the ETag for optimistic concurrency.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserProfile {
    pub fn years_to_retirement(&self) -> u32 {
        self.profile.retirement_age.saturating_sub(self.profile.age)
    }

    pub fn net_worth(&self) -> f64 {
        self.profile.assets - self.profile.liabilities
    }
}

/// Payload of `miyagi.user.profile.deleted.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfileDeleted {
    pub id: Uuid,
    pub owner: String,
}

/// Payload of `miyagi.user.account.deleted.v1`: whose data is to go. Their profiles' own
/// deletions are published beside it, one per profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDeleted {
    pub user: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> UserProfileInput {
        UserProfileInput {
            name: "Ada".into(),
            age: 35,
            annual_household_income: 120_000.0,
            assets: 50_000.0,
            liabilities: 10_000.0,
            risk_tolerance: RiskTolerance::Moderate,
            retirement_age: 65,
            goals: vec!["Buy a home".into()],
            favorite_advisor: Some("Jack Bogle".into()),
            favorite_book: None,
            hobbies: vec![],
        }
    }

    #[test]
    fn a_complete_profile_is_valid() {
        assert!(valid().validate().is_ok());
    }

    #[test]
    fn an_underage_profile_names_the_age_field() {
        let errs = UserProfileInput { age: 12, ..valid() }
            .validate()
            .unwrap_err();
        assert!(errs.field_errors().contains_key("age"));
    }

    #[test]
    fn a_nul_character_is_rejected_by_field() {
        let errs = UserProfileInput {
            name: "A\u{0}da".into(),
            ..valid()
        }
        .validate()
        .unwrap_err();
        assert!(errs.field_errors().contains_key("name"));
        let errs = UserProfileInput {
            goals: vec!["x\u{0}".into()],
            ..valid()
        }
        .validate()
        .unwrap_err();
        assert!(errs.field_errors().contains_key("goals"));
    }

    #[test]
    fn a_blank_goal_is_rejected() {
        let errs = UserProfileInput {
            goals: vec!["  ".into()],
            ..valid()
        }
        .validate()
        .unwrap_err();
        assert!(errs.field_errors().contains_key("goals"));
    }

    #[test]
    fn a_stored_profile_round_trips_through_json() {
        let stored = UserProfile {
            id: Uuid::now_v7(),
            owner: "alice".into(),
            profile: valid(),
            version: 3,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(serde_json::from_str::<UserProfile>(&json).unwrap(), stored);
    }

    #[test]
    fn risk_tolerance_round_trips_through_its_name() {
        for r in RiskTolerance::ALL {
            assert_eq!(r.as_str().parse::<RiskTolerance>().unwrap(), r);
        }
    }
}
