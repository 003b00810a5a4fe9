//! `images/generations` on OpenAI and Azure OpenAI (DALL·E, gpt-image): the same client, its
//! retries and rate limits as chat. Images are asked for as `b64_json`, so the picture comes back
//! in the answer rather than as a URL that expires within the hour.

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use super::{parse, read_body, OpenAiClient};
use crate::{
    image::{GeneratedImage, ImageModel, ImageRequest},
    KernelError,
};

#[derive(Deserialize)]
struct ImagesResponse {
    #[serde(default)]
    data: Vec<ImageData>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
    revised_prompt: Option<String>,
}

#[async_trait]
impl ImageModel for OpenAiClient {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    async fn generate(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>, KernelError> {
        let body = json!({
            "model": self.config.model,
            "prompt": request.prompt,
            "n": request.n,
            "size": request.size.to_string(),
            "response_format": "b64_json",
            "user": request.user,
        });
        async {
            // An image is billed by the picture, not by tokens: one prompt's worth for the limiter.
            let tokens = (request.prompt.len() / 4) as u32 + 1;
            let response = self.post("images/generations", &body, tokens).await?;
            let answer: ImagesResponse = parse(&read_body(response).await?)?;
            if answer.data.len() != usize::from(request.n) {
                return Err(KernelError::BadResponse(format!(
                    "asked for {} images, the endpoint answered {}",
                    request.n,
                    answer.data.len()
                )));
            }
            answer
                .data
                .into_iter()
                .map(|image| {
                    let encoded = image.b64_json.ok_or_else(|| {
                        KernelError::BadResponse("an image without b64_json".into())
                    })?;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|e| KernelError::BadResponse(format!("image not base64: {e}")))?;
                    Ok(GeneratedImage {
                        media_type: sniff(&bytes)
                            .ok_or_else(|| {
                                KernelError::BadResponse(
                                    "the image is neither PNG, JPEG nor WebP".into(),
                                )
                            })?
                            .into(),
                        bytes,
                        revised_prompt: image.revised_prompt,
                    })
                })
                .collect()
        }
        .instrument(self.span("image_generation"))
        .await
    }
}

/// The media type from the file's first bytes: the endpoint's `output_format` varies by model,
/// and a body that is not an image must not be stored as one.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn the_media_type_is_read_from_the_bytes_not_trusted() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<html>not an image"), None);
    }
}
