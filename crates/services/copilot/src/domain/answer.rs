//! An answer checked before it is kept: its sentences that stray from the question are
//! dropped, the source sentences it restates are cited, and when nothing of the model's passes,
//! the best source is quoted instead.

use miyagi_domain::prose;
use miyagi_memory::{
    cite::{self, Citation, Passage},
    retrieve::cosine,
};

use super::{
    Copilot, ATTRIBUTION_COSINE, FALLBACK_COSINE, MAX_CITATIONS, ON_TOPIC_COSINE, QUOTE_COSINE,
};
use crate::error::CopilotError;

impl Copilot {
    /// `text` without its sentences that stray from the question (a small model drifts: from
    /// fees to "everyone who uses the internet"); `None` when none stays on it.
    pub(super) async fn on_topic(
        &self,
        text: &str,
        question: &str,
    ) -> Result<Option<String>, CopilotError> {
        let sentences = prose::sentences(text);
        let mut texts = vec![question.to_string()];
        texts.extend(sentences.iter().cloned());
        let vectors = self.embedder.embed(&texts).await?;
        let kept: Vec<&str> = sentences
            .iter()
            .zip(&vectors[1..])
            .filter(|(_, v)| cosine(&vectors[0], v) >= ON_TOPIC_COSINE)
            .map(|(s, _)| s.as_str())
            .collect();
        Ok((!kept.is_empty()).then(|| kept.join(" ")))
    }

    /// The answer with its citations: the source sentences its own sentences restate, and the
    /// source sentence closest to the question, quoted after the answer when no restatement
    /// already cites it, so the person always sees what the sources say beside what the coach
    /// says.
    pub(super) async fn cited(
        &self,
        text: String,
        question: &str,
        passages: &[Passage],
    ) -> Result<(String, Vec<Citation>), CopilotError> {
        let embedder = self.embedder.as_ref();
        let mut citations =
            cite::attribute(embedder, &text, passages, MAX_CITATIONS, ATTRIBUTION_COSINE).await?;
        let closest = cite::attribute(embedder, question, passages, 1, QUOTE_COSINE).await?;
        let Some(quote) = closest.into_iter().next() else {
            return Ok((text, citations));
        };
        if citations.iter().any(|c| c.snippet == quote.snippet) {
            return Ok((text, citations));
        }
        let text = format!(
            "{text}\n\nFrom {}: “{}”",
            quote.document_name, quote.snippet
        );
        citations.push(quote);
        Ok((text, citations))
    }

    /// The answer when the model's words did not pass: the source sentence closest to the
    /// question, quoted and cited, or a plain admission when no source comes close.
    pub(super) async fn fallback(
        &self,
        question: &str,
        passages: &[Passage],
    ) -> Result<(String, Vec<Citation>), CopilotError> {
        let best = cite::attribute(
            self.embedder.as_ref(),
            question,
            passages,
            1,
            FALLBACK_COSINE,
        )
        .await?;
        Ok(match best.first() {
            Some(c) => (
                format!(
                    "I could not put a good answer into words, so here is what {} says: “{}”",
                    c.document_name, c.snippet
                ),
                best,
            ),
            None => (
                "I could not answer that well, and none of your documents or the library speaks to it. Could you ask it another way?".into(),
                vec![],
            ),
        })
    }
}
