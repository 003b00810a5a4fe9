//! The image model seam: what generates a picture from words. Two implementations: the
//! OpenAI / Azure OpenAI images connector ([`OpenAiClient`](crate::connectors::openai::OpenAiClient)),
//! and the images service's card renderer, which draws a person's own figures.
//!
//! Its promises: an answer holds exactly `n` images or is an error; each image's bytes are in the
//! media type it names; a prompt the model rewrote comes back as `revised_prompt`, so a person
//! sees what was drawn, not what they think they asked for.

use async_trait::async_trait;

use crate::KernelError;

/// Widths and heights the API accepts, as OpenAI's images endpoint names them.
pub const SIZES: [&str; 5] = ["256x256", "512x512", "1024x1024", "1792x1024", "1024x1792"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

impl ImageSize {
    /// Reads one of [`SIZES`]; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if !SIZES.contains(&text) {
            return None;
        }
        let (w, h) = text.split_once('x')?;
        Some(Self {
            width: w.parse().ok()?,
            height: h.parse().ok()?,
        })
    }
}

impl std::fmt::Display for ImageSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub prompt: String,
    pub n: u8,
    pub size: ImageSize,
    /// Whose image it is: the card renderer draws this person's figures, a remote endpoint is
    /// sent it as OpenAI's `user` (abuse monitoring), never anything that names them.
    pub user: String,
}

#[derive(Debug, Clone)]
pub struct GeneratedImage {
    pub bytes: Vec<u8>,
    /// `image/png` and the like.
    pub media_type: String,
    /// The prompt as the model understood it, when it says.
    pub revised_prompt: Option<String>,
}

#[async_trait]
pub trait ImageModel: Send + Sync {
    fn model_id(&self) -> &str;

    async fn generate(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>, KernelError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_is_one_of_the_listed_ones() {
        assert_eq!(
            ImageSize::parse("1792x1024"),
            Some(ImageSize {
                width: 1792,
                height: 1024
            })
        );
        assert_eq!(ImageSize::parse("1000x1000"), None);
        assert_eq!(ImageSize::parse("big"), None);
    }
}
