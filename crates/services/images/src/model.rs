//! What the API reads and answers: Miyagi's own image jobs, and the OpenAI images wire shape.

use chrono::{DateTime, Utc};
use miyagi_kernel::ImageSize;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    /// Asked for; its event has not been handled yet.
    Pending,
    /// In blob storage: `contentUrl` serves it.
    Ready,
    /// Could not be made; `failure` says why.
    Failed,
}

impl ImageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Ready, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The sizes an image can be drawn at, as OpenAI's images API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub enum Size {
    #[serde(rename = "256x256")]
    Small,
    #[serde(rename = "512x512")]
    Medium,
    #[default]
    #[serde(rename = "1024x1024")]
    Square,
    #[serde(rename = "1792x1024")]
    Wide,
    #[serde(rename = "1024x1792")]
    Tall,
}

impl From<Size> for ImageSize {
    fn from(size: Size) -> Self {
        let (width, height) = match size {
            Size::Small => (256, 256),
            Size::Medium => (512, 512),
            Size::Square => (1024, 1024),
            Size::Wide => (1792, 1024),
            Size::Tall => (1024, 1792),
        };
        ImageSize { width, height }
    }
}

/// How `/v1/images/generations` answers with the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// A link to the picture on this server.
    #[default]
    Url,
    /// The picture itself, base64-encoded.
    B64Json,
}

/// An image a person asked for.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub id: Uuid,
    pub prompt: String,
    /// `WIDTHxHEIGHT`.
    pub size: String,
    /// What makes it: an images endpoint's model, or `miyagi-cards`, which draws the person's own
    /// figures from the finance engine.
    pub model: String,
    pub status: ImageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// What was drawn, in the model's words: a card says which figures it shows and where they
    /// come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The picture, once `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_url: Option<String>,
    /// The answer it was drawn for: `chat-message:{id}` or `advice:{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
}

/// `GET /api/v1/images` filters.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ImageFilter {
    /// Only the cards drawn for this answer: `chat-message:{id}` or `advice:{id}`.
    #[param(
        pattern = r"^(chat-message|advice):[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub attached_to: Option<String>,
}

impl ImageFilter {
    /// The answer named, checked: one of the two kinds, and a real id.
    pub fn attachment(&self) -> Result<Option<String>, &'static str> {
        let Some(named) = &self.attached_to else {
            return Ok(None);
        };
        match named.split_once(':') {
            // 36 characters: the hyphenated form the parameter's pattern admits, and no other.
            Some(("chat-message" | "advice", id))
                if id.len() == 36 && Uuid::parse_str(id).is_ok() =>
            {
                Ok(Some(named.to_lowercase()))
            }
            _ => Err("write chat-message:{id} or advice:{id}, with the answer's id"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewImage {
    /// What to draw. Without an images endpoint, ask for a card of your own figures: your target
    /// mix, your retirement projection, your paper positions or your usual month.
    #[validate(length(min = 1, max = 4000, message = "write 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub prompt: String,
    /// `1024x1024` when left out.
    pub size: Option<Size>,
}

/// `POST /v1/images/generations`, as OpenAI's Python and JavaScript clients send it.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct GenerationRequest {
    #[validate(length(min = 1, max = 4000, message = "write 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub prompt: String,
    /// The model served (see `GET /api/v1/images/model`); absent means that one.
    pub model: Option<String>,
    /// 1: Miyagi draws one image a request, as dall-e-3 does.
    #[validate(range(
        min = 1,
        max = 1,
        message = "Miyagi draws one image a request (as dall-e-3 does); send one request per image"
    ))]
    #[schema(minimum = 1, maximum = 1)]
    pub n: Option<u8>,
    pub size: Option<Size>,
    pub response_format: Option<ResponseFormat>,
    /// Accepted because OpenAI's clients send them; the drawing does not change with them, and
    /// the caller's credentials, not `user`, say whose image it is.
    #[allow(dead_code)]
    pub quality: Option<String>,
    #[allow(dead_code)]
    pub style: Option<String>,
    #[allow(dead_code)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GenerationResponse {
    pub created: i64,
    pub data: Vec<GeneratedData>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GeneratedData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

/// The model that draws, and what it can draw.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageModelInfo {
    pub model: String,
    /// True for `miyagi-cards`: it draws the person's own figures, not any picture.
    pub cards_only: bool,
    /// What to ask for, for a person to start from.
    pub suggestions: Vec<String>,
}
