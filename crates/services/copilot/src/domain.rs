//! The copilot's decisions: what a chat's coach sounds like, what goes into the prompt for a
//! question (the person's figures, what it remembers of them, passages from their documents and
//! the library, the chat's recent turns), how the answer is written and checked, and what of a
//! person's message is worth remembering.

use std::{sync::Arc, time::Instant};

use futures::StreamExt;
use miyagi_domain::{chat::Author, document::LIBRARY_OWNER, user::UserProfile};
use miyagi_kernel::{
    chat::{ChatDelta, ExecutionSettings},
    ChatRequest, EmbeddingModel, Kernel, KernelError,
};
use miyagi_memory::{
    chunk::TokenCounter,
    cite::{self, Citation, Passage},
    retrieve::{cosine, RetrievalSettings, Retriever},
};
use uuid::Uuid;

use crate::{
    error::CopilotError,
    figures,
    memory::{self, Picked},
    model::{AnswerDetails, Chat, ChatSettings, Memory, MemoryRef, Message, PromptView, WrittenBy},
    prompt::{self, Assembled, Inputs, Remembered, PROMPT_TOKENS},
    store::{CopilotStore, NewMemory, NewMessage},
    writing,
};

pub const DEFAULT_TITLE: &str = "New chat";
const DEFAULT_MEMORY_BALANCE: f64 = 0.5;
/// The chat's earlier messages the budget may choose from.
const HISTORY_MESSAGES: u32 = 24;
/// Passages asked of each source (the person's documents, the library).
const PASSAGES_PER_SOURCE: usize = 3;
/// A memory less similar than this to the question is left out of its prompt.
const MIN_RECALL_COSINE: f32 = 0.25;
const MAX_CITATIONS: usize = 2;
/// A source sentence this close in meaning to one of the answer's is what that sentence
/// restates, and is cited for it (MiniLM cosine; two finance sentences on different points
/// score 0.4–0.5, which is why the bar is high).
const ATTRIBUTION_COSINE: f32 = 0.6;
/// A source sentence this close to the question speaks to it, and is quoted after the answer.
const QUOTE_COSINE: f32 = 0.35;
/// An answer's sentence less similar than this to the question has drifted off it.
const ON_TOPIC_COSINE: f32 = 0.3;
/// A source sentence this close to the question is worth quoting when the model's own words
/// did not pass.
const FALLBACK_COSINE: f32 = 0.3;
/// Tokens the answer may take: two to four sentences, with room to finish the last.
const ANSWER_TOKENS: u32 = 200;

/// A question and the answer it got.
pub struct Exchange {
    pub question: Message,
    pub answer: Message,
}

/// Everything a prompt is made from, gathered for a question.
struct Prepared {
    query: String,
    memories: Vec<Memory>,
    assembled: Assembled,
}

pub struct Copilot {
    store: CopilotStore,
    kernel: Option<Kernel>,
    embedder: Arc<dyn EmbeddingModel>,
    tokens: TokenCounter,
    retriever: Arc<dyn Retriever>,
}

impl Copilot {
    pub fn new(
        store: CopilotStore,
        kernel: Option<Kernel>,
        embedder: Arc<dyn EmbeddingModel>,
        tokens: TokenCounter,
        retriever: Arc<dyn Retriever>,
    ) -> Self {
        Self {
            store,
            kernel,
            embedder,
            tokens,
            retriever,
        }
    }

    pub fn store(&self) -> &CopilotStore {
        &self.store
    }

    /// A new chat; its persona defaults to the voice of the favourite advisor on the person's
    /// profile.
    pub async fn create_chat(&self, owner: &str, new: ChatSettings) -> Result<Chat, CopilotError> {
        let persona = match new.persona {
            Some(persona) => persona,
            None => default_persona(self.store.profile(owner).await?.as_ref()),
        };
        Ok(self
            .store
            .create_chat(
                owner,
                new.title.as_deref().unwrap_or(DEFAULT_TITLE),
                &persona,
                new.memory_balance.unwrap_or(DEFAULT_MEMORY_BALANCE),
            )
            .await?)
    }

    pub async fn update_chat(
        &self,
        owner: &str,
        id: Uuid,
        change: ChatSettings,
    ) -> Result<Chat, CopilotError> {
        Ok(self
            .store
            .update_chat(
                owner,
                id,
                change.title.as_deref(),
                change.persona.as_deref(),
                change.memory_balance,
            )
            .await?)
    }

    /// Answers `content` in `chat`. The question is stored first, so it is kept even if the
    /// model fails; `deltas` (when someone watches) receives the answer's words as written.
    pub async fn reply(
        &self,
        owner: &str,
        chat_id: Uuid,
        content: &str,
        deltas: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<Exchange, CopilotError> {
        let started = Instant::now();
        let kernel = self.kernel.as_ref().ok_or(CopilotError::NoModel)?;
        let chat = self.store.chat(owner, chat_id).await?;
        let history = self.history(owner, chat_id).await?;
        let question = self
            .store
            .add_message(
                owner,
                chat_id,
                NewMessage {
                    author: Author::User,
                    content,
                    citations: &[],
                    details: None,
                },
            )
            .await?;
        if chat.title == DEFAULT_TITLE && history.is_empty() {
            let title = title_from(content);
            self.store
                .update_chat(owner, chat_id, Some(&title), None, None)
                .await?;
        }
        let prepared = self.prepare(owner, &chat, &history, content).await?;
        let run = question.id.to_string();
        let kernel = kernel.for_run(&run, owner);
        let request = ChatRequest {
            messages: prepared.assembled.messages.clone(),
            settings: ExecutionSettings {
                max_tokens: Some(ANSWER_TOKENS),
                // Greedy: the same question in the same chat gets the same answer, which a
                // person can rely on and a test can check; sampling made a 135M model wander.
                temperature: Some(0.0),
                ..Default::default()
            },
            tools: vec![],
        };
        let mut stream = kernel.chat_stream(request).await?;
        let mut written = String::new();
        while let Some(delta) = stream.next().await {
            if let ChatDelta::Text(text) = delta? {
                written.push_str(&text);
                if let Some(deltas) = &deltas {
                    // A watcher who left does not stop the answer: it is still stored.
                    let _ = deltas.send(text);
                }
            }
        }
        let passages = &prepared.assembled.passages;
        let shown: String = prepared
            .assembled
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let checked = match writing::clean(&written, content, &shown) {
            Some(text) => self.on_topic(&text, content).await?,
            None => None,
        };
        let (text, citations, written_by) = match checked {
            Some(text) => {
                let (text, citations) = self.cited(text, content, passages).await?;
                (text, citations, WrittenBy::Model)
            }
            None => {
                tracing::info!(chat = %chat_id, written = %written, "the model's answer did not pass its checks; quoting the best source");
                let (text, citations) = self.fallback(content, passages).await?;
                (text, citations, WrittenBy::Fallback)
            }
        };
        let usage = kernel.ledger().for_run(&run);
        let details = AnswerDetails {
            written_by,
            query: prepared.query,
            memories: prepared
                .memories
                .iter()
                .map(|m| MemoryRef {
                    id: m.id,
                    kind: m.kind,
                    text: m.text.clone(),
                })
                .collect(),
            passages: prepared.assembled.passages.len(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        let answer = self
            .store
            .add_message(
                owner,
                chat_id,
                NewMessage {
                    author: Author::Assistant,
                    content: &text,
                    citations: &citations,
                    details: Some(&details),
                },
            )
            .await?;
        Ok(Exchange { question, answer })
    }

    /// The prompt `question` would get in `chat` now, part by part.
    pub async fn prompt_view(
        &self,
        owner: &str,
        chat_id: Uuid,
        question: &str,
    ) -> Result<PromptView, CopilotError> {
        let chat = self.store.chat(owner, chat_id).await?;
        let history = self.history(owner, chat_id).await?;
        let prepared = self.prepare(owner, &chat, &history, question).await?;
        Ok(PromptView {
            query: prepared.query,
            messages: prepared.assembled.rendered(),
            parts: prepared.assembled.parts,
            total_tokens: prepared.assembled.total_tokens,
            limit_tokens: PROMPT_TOKENS,
            counted_with: "the embedding model's tokenizer (MiniLM WordPiece)".into(),
        })
    }

    async fn history(
        &self,
        owner: &str,
        chat_id: Uuid,
    ) -> Result<Vec<(Author, String)>, CopilotError> {
        let page = self
            .store
            .messages(owner, chat_id, None, HISTORY_MESSAGES)
            .await?;
        Ok(page
            .messages
            .into_iter()
            .map(|m| (m.author, m.content))
            .collect())
    }

    async fn prepare(
        &self,
        owner: &str,
        chat: &Chat,
        history: &[(Author, String)],
        question: &str,
    ) -> Result<Prepared, CopilotError> {
        let query = prompt::standalone_query(question, history);
        let profile = self.store.profile(owner).await?;
        let memories = self.recall(owner, chat.id, &query).await?;
        let passages = self.passages(owner, &query).await?;
        let remembered: Vec<Remembered> = memories
            .iter()
            .map(|m| Remembered {
                kind: m.kind.as_str(),
                text: m.text.clone(),
            })
            .collect();
        let figures = profile.as_ref().map(figures::describe);
        let count = |text: &str| self.tokens.count(text);
        let assembled = prompt::assemble(
            &Inputs {
                persona: &chat.persona,
                figures: figures.as_deref(),
                memories: &remembered,
                passages: &passages,
                history,
                question,
                memory_balance: chat.memory_balance,
            },
            &count,
            PROMPT_TOKENS,
        );
        let kept = assembled.memories_kept;
        Ok(Prepared {
            query,
            memories: memories.into_iter().take(kept).collect(),
            assembled,
        })
    }

    /// The memories relevant to `query`, most similar first.
    async fn recall(
        &self,
        owner: &str,
        chat_id: Uuid,
        query: &str,
    ) -> Result<Vec<Memory>, CopilotError> {
        let candidates = self.store.recallable(owner, chat_id).await?;
        if candidates.is_empty() {
            return Ok(vec![]);
        }
        let query = self.embed_one(query).await?;
        let mut scored: Vec<(f32, Memory)> = candidates
            .into_iter()
            .map(|(m, v)| (cosine(&query, &v), m))
            .filter(|(score, _)| *score >= MIN_RECALL_COSINE)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored.into_iter().map(|(_, m)| m).collect())
    }

    /// Passages from the person's own documents and from the investing library, most relevant
    /// first.
    async fn passages(&self, owner: &str, query: &str) -> Result<Vec<Passage>, CopilotError> {
        let settings = RetrievalSettings {
            limit: PASSAGES_PER_SOURCE,
            ..Default::default()
        };
        let (own, library) = tokio::join!(
            self.retriever.retrieve(owner, query, None, &settings),
            self.retriever
                .retrieve(LIBRARY_OWNER, query, None, &settings)
        );
        let mut passages = own.map_err(CopilotError::Retrieval)?;
        passages.extend(library.map_err(CopilotError::Retrieval)?);
        passages.sort_by(|a, b| b.relevance.total_cmp(&a.relevance));
        Ok(passages)
    }

    /// `text` without its sentences that stray from the question (a small model drifts: from
    /// fees to "everyone who uses the internet"); `None` when none stays on it.
    async fn on_topic(&self, text: &str, question: &str) -> Result<Option<String>, CopilotError> {
        let sentences = writing::sentences(text);
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
    async fn cited(
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
    async fn fallback(
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

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>, KernelError> {
        let mut vectors = self.embedder.embed(&[text.to_string()]).await?;
        vectors
            .pop()
            .ok_or_else(|| KernelError::BadResponse("the embedder returned no vector".into()))
    }

    /// Corrects a memory; a new text is embedded again so recall follows the correction.
    pub async fn update_memory(
        &self,
        owner: &str,
        id: Uuid,
        text: Option<String>,
        kind: Option<miyagi_domain::chat::MemoryKind>,
    ) -> Result<Memory, CopilotError> {
        let embedded = match &text {
            Some(text) => Some(self.embed_one(text).await?),
            None => None,
        };
        let text = text.as_deref().zip(embedded.as_deref());
        Ok(self.store.update_memory(owner, id, text, kind).await?)
    }

    /// Reads a person's message for memories and stores the new ones, claiming `event_id` for
    /// `consumer` with them. Returns what was stored (`None`: handled before).
    pub async fn extract_memories(
        &self,
        consumer: &str,
        event_id: &str,
        owner: &str,
        message: &Message,
    ) -> Result<Option<Vec<Memory>>, CopilotError> {
        let candidates = memory::candidates(&message.content);
        let picked = match (&self.kernel, candidates.is_empty()) {
            (Some(kernel), false) => {
                let (request, schema) = memory::request(&message.content, &candidates);
                let value = kernel
                    .for_user(owner)
                    .structured_value(request, "memories", schema, 2)
                    .await?;
                serde_json::from_value::<Picked>(value)
                    .map_err(|e| KernelError::BadResponse(format!("memories: {e}")))?
                    .memories
            }
            _ => vec![],
        };
        // A remote model is not held to the schema's list; what it invents is not the person's.
        let picked: Vec<_> = picked
            .into_iter()
            .filter(|p| candidates.contains(&p.sentence))
            .collect();
        let texts: Vec<String> = picked.iter().map(|p| p.sentence.clone()).collect();
        let vectors = if texts.is_empty() {
            vec![]
        } else {
            self.embedder.embed(&texts).await?
        };
        let known = self.store.recallable(owner, message.chat_id).await?;
        let keep = memory::keep(
            &picked,
            |i, j| cosine(&vectors[i], &vectors[j]),
            |i| {
                known
                    .iter()
                    .map(|(_, v)| cosine(&vectors[i], v))
                    .fold(f32::MIN, f32::max)
            },
        );
        let memories = keep
            .into_iter()
            .map(|i| NewMemory {
                kind: picked[i].kind,
                text: picked[i].sentence.clone(),
                embedding: vectors[i].clone(),
            })
            .collect();
        Ok(self
            .store
            .remember(
                consumer,
                event_id,
                owner,
                message.chat_id,
                message.id,
                memories,
            )
            .await?)
    }
}

/// The coach a new chat speaks as: in the voice of the person's favourite advisor when their
/// profile names one.
pub fn default_persona(profile: Option<&UserProfile>) -> String {
    let advisor = profile.and_then(|p| p.profile.favorite_advisor.as_deref());
    match advisor {
        Some(advisor) => format!(
            "You are Miyagi, a personal financial coach who speaks in the voice of {advisor}: \
             their manner, their way of explaining and their principles. \
             You are warm, direct and practical."
        ),
        None => "You are Miyagi, a personal financial coach: warm, direct and practical, \
                 explaining plainly and without jargon."
            .into(),
    }
}

/// A chat's title from its first question: its first line, cut at a word to fit a list.
fn title_from(question: &str) -> String {
    const TITLE_CHARS: usize = 60;
    let line = question
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(DEFAULT_TITLE)
        .trim();
    if line.chars().count() <= TITLE_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let at_word = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
    format!("{at_word}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_first_question_becomes_a_short_title_cut_at_a_word() {
        assert_eq!(
            title_from("  \nShould I pay off my mortgage?"),
            "Should I pay off my mortgage?"
        );
        let long = "Should I pay off my mortgage early or invest the money in index funds instead, given rates?";
        let title = title_from(long);
        assert!(
            title.ends_with('…') && title.chars().count() <= 61,
            "{title}"
        );
        assert!(long.starts_with(title.trim_end_matches('…')));
    }
}
