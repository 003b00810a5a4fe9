//! Structured output: `kernel.structured::<T>()` returns a `T` or a clear error, never half-valid JSON.
//!
//! The schema is derived from `T` (schemars) and sent as `response_format: json_schema`. Models
//! that constrain decoding to the schema (local models) are trusted to comply; for the others
//! the answer is validated (jsonschema) and, when invalid, the validation errors are sent back
//! for a corrected answer, a bounded number of times — TypeChat's repair loop.

use std::sync::Arc;

use futures::StreamExt;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    chat::{collect_stream, ChatDelta, ChatMessage, ChatRequest, ResponseFormat},
    Kernel, KernelError,
};

mod field_tap;

pub use field_tap::FieldTap;

/// Sees the answer's text as the model writes it, for showing progress; the validated value
/// still comes back whole.
pub type TextWatcher = Arc<dyn Fn(&str) + Send + Sync>;

/// A watcher that hands `sink` the decoded characters of the answer's top-level string `field`
/// as the model writes them (see [`FieldTap`]).
pub fn watch_field(field: &str, sink: impl Fn(String) + Send + Sync + 'static) -> TextWatcher {
    let tap = std::sync::Mutex::new(FieldTap::new(field));
    Arc::new(move |piece: &str| {
        let text = match tap.lock() {
            Ok(mut tap) => tap.feed(piece),
            // A panic in another feed left the tap mid-string; what it would add is lost.
            Err(_) => String::new(),
        };
        if !text.is_empty() {
            sink(text);
        }
    })
}

/// The schema for `T`, as sent to the model.
pub fn schema_for<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialize");
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
    }
    schema
}

impl Kernel {
    /// A `T` from the model, its schema derived from the type.
    pub async fn structured<T: JsonSchema + DeserializeOwned>(
        &self,
        request: ChatRequest,
        max_attempts: u32,
    ) -> Result<T, KernelError> {
        let name: String = T::schema_name()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        self.structured_with(
            request,
            &name,
            schema_for::<T>(),
            max_attempts,
            None,
            |value| serde_json::from_value::<T>(value).map_err(|e| e.to_string()),
        )
        .await
    }

    /// A JSON value valid for `schema`, for schemas built at run time (say, an enum of the
    /// passages a model may quote).
    pub async fn structured_value(
        &self,
        request: ChatRequest,
        name: &str,
        schema: Value,
        max_attempts: u32,
    ) -> Result<Value, KernelError> {
        self.structured_with(request, name, schema, max_attempts, None, Ok)
            .await
    }

    /// [`Kernel::structured_value`] over a streamed call: `watch` sees each piece of text as
    /// it is generated (a repair attempt's text too, after the first attempt's).
    pub async fn structured_value_watched(
        &self,
        request: ChatRequest,
        name: &str,
        schema: Value,
        max_attempts: u32,
        watch: TextWatcher,
    ) -> Result<Value, KernelError> {
        self.structured_with(request, name, schema, max_attempts, Some(watch), Ok)
            .await
    }

    async fn answer(
        &self,
        request: ChatRequest,
        watch: Option<&TextWatcher>,
    ) -> Result<String, KernelError> {
        let Some(watch) = watch else {
            return Ok(self.chat(request).await?.message.content);
        };
        let model = self.chat_model()?.model_id().to_string();
        let watch = watch.clone();
        let stream = self
            .chat_stream(request)
            .await?
            .inspect(move |delta| {
                if let Ok(ChatDelta::Text(text)) = delta {
                    watch(text);
                }
            })
            .boxed();
        Ok(collect_stream(&model, stream).await?.message.content)
    }

    async fn structured_with<R>(
        &self,
        mut request: ChatRequest,
        name: &str,
        schema: Value,
        max_attempts: u32,
        watch: Option<TextWatcher>,
        parse: impl Fn(Value) -> Result<R, String>,
    ) -> Result<R, KernelError> {
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| KernelError::Config(format!("schema: {e}")))?;
        request.settings.response_format = Some(ResponseFormat::JsonSchema {
            name: name.to_string(),
            schema,
            strict: false,
        });
        let constrained = self.chat_model()?.constrains_output();
        let mut last_errors = String::new();
        for attempt in 1..=max_attempts.max(1) {
            let answer = self.answer(request.clone(), watch.as_ref()).await?;
            let errors = match serde_json::from_str::<Value>(strip_fences(&answer)) {
                Err(e) => format!("not valid JSON: {e}"),
                Ok(value) => {
                    let problems: Vec<String> = validator
                        .iter_errors(&value)
                        .map(|e| format!("at `{}`: {e}", e.instance_path()))
                        .collect();
                    if problems.is_empty() {
                        match parse(value) {
                            Ok(parsed) => return Ok(parsed),
                            Err(e) => e,
                        }
                    } else {
                        problems.join("; ")
                    }
                }
            };
            tracing::warn!(attempt, %errors, "structured output invalid");
            last_errors = errors;
            if constrained {
                break;
            }
            request.messages.push(ChatMessage::assistant(answer));
            request.messages.push(ChatMessage::user(format!(
                "That answer does not match the required JSON schema: {last_errors}. \
                 Reply with only the corrected JSON, nothing else."
            )));
        }
        Err(KernelError::Schema {
            attempts: max_attempts,
            errors: last_errors,
        })
    }
}

/// Models often wrap JSON in a Markdown code fence; the JSON is what counts.
fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    let Some(body) = t.strip_prefix("```") else {
        return t;
    };
    let body = body.strip_prefix("json").unwrap_or(body);
    body.strip_suffix("```").unwrap_or(body).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_json_is_unwrapped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
    }
}
