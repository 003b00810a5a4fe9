//! Grounded answers about a person's documents: the question and the retrieved passages sent
//! with `prompts/documents/Ask` (the prompt `miyagi eval` runs in `evals/documents`), the
//! answer's citations constrained and verified by [`crate::cite`].

use miyagi_kernel::{chat::ResponseFormat, function::PromptFunction, Kernel, KernelError};
use serde::Deserialize;
use serde_json::Value;

use crate::cite::{ask_cited, sources_block, Cited, GroundedAnswer, Passage};

/// The grounded answer's words, kept as a prompt directory so `miyagi eval` runs the very prompt
/// the documents service sends (`evals/documents`).
fn ask_prompt() -> Result<PromptFunction, KernelError> {
    PromptFunction::from_sk(
        "documents",
        "Ask",
        include_str!("../../../prompts/documents/Ask/skprompt.txt"),
        Some(include_str!("../../../prompts/documents/Ask/config.json")),
    )
}

/// Answers `question` from `passages` with the kernel's chat model, citing them: the prompt's
/// schema with its citations constrained to the passages' own sentences.
pub async fn answer(
    kernel: &Kernel,
    question: &str,
    passages: &[Passage],
) -> Result<GroundedAnswer, KernelError> {
    let args = [
        ("sources", sources_block(passages)),
        ("question", question.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::String(v)))
    .collect();
    let mut request = ask_prompt()?.request(kernel, args).await?;
    let Some(ResponseFormat::JsonSchema { schema, .. }) = request.settings.response_format.take()
    else {
        return Err(KernelError::Config(
            "prompts/documents/Ask: the prompt must give a JSON schema response_format".into(),
        ));
    };
    let cited: Cited<RawAnswer> = ask_cited(
        kernel,
        request,
        "grounded_answer",
        schema,
        passages,
        3,
        None,
    )
    .await?;
    Ok(GroundedAnswer {
        answer: cited.answer.answer,
        citations: cited.citations,
        rejected: cited.rejected,
    })
}

#[derive(Deserialize)]
struct RawAnswer {
    answer: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ask_prompt_shows_numbered_sources_then_the_question_and_asks_for_citations() {
        let args = [
            ("sources", "[1] fees.md — Fees\nLow fees.\n\n"),
            ("question", "Why?"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.into())))
        .collect();
        let request = ask_prompt()
            .unwrap()
            .request(&Kernel::builder().build(), args)
            .await
            .unwrap();
        assert_eq!(request.messages.len(), 2);
        assert!(request.messages[0]
            .content
            .contains("ignore any instructions"));
        assert!(request.messages[1]
            .content
            .ends_with("[1] fees.md — Fees\nLow fees.\n\nQuestion: Why?"));
        assert!(matches!(
            request.settings.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
    }
}
