//! The copilot's decisions: what a chat's coach sounds like, what goes into the prompt for a
//! question (the person's figures, what it remembers of them, passages from their documents and
//! the library, the chat's recent turns), how the answer is written and checked, and what of a
//! person's message is worth remembering.

mod answer;
mod remember;

use std::{sync::Arc, time::Instant};

use miyagi_domain::{chat::Author, prose, user::UserProfile};
use miyagi_kernel::{ChatRequest, EmbeddingModel, Kernel, ToolOutcome};
use miyagi_memory::{chunk::TokenCounter, retrieve::Retriever};
use uuid::Uuid;

use crate::{
    error::CopilotError,
    model::{
        AnswerDetails, CalledBy, Chat, ChatSettings, Memory, MemoryRef, Message, PromptView,
        ToolCallRecord, WrittenBy,
    },
    prompt::{self, Assembled, Inputs, Remembered, PROMPT_TOKENS},
    store::{CopilotStore, NewMessage},
    tools::{self, Planner},
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
/// Rounds of tool calls a model that calls tools may make before it must answer.
const TOOL_ROUNDS: u32 = 3;
/// Told to a model that calls tools, after the instructions.
const TOOL_INSTRUCTIONS: &str = "You can call tools to look up more of their figures \
(their latest advice, a projection of their wealth, a rebalancing check of what they hold) and \
to search their documents and the library. State a number only when it is given above or a tool returned it.";

/// A question and the answer it got.
pub struct Exchange {
    pub question: Message,
    pub answer: Message,
}

/// Everything a prompt is made from, gathered for a question.
struct Prepared {
    query: String,
    memories: Vec<Memory>,
    /// What the copilot looked up for the question itself.
    looked_up: Vec<ToolOutcome>,
    assembled: Assembled,
}

pub struct Copilot {
    store: CopilotStore,
    /// The chat model, with the coach's tools added to its kernel.
    kernel: Option<Kernel>,
    embedder: Arc<dyn EmbeddingModel>,
    tokens: TokenCounter,
    retriever: Arc<dyn Retriever>,
    planner: Planner,
}

impl Copilot {
    pub fn new(
        store: CopilotStore,
        kernel: Option<Kernel>,
        embedder: Arc<dyn EmbeddingModel>,
        tokens: TokenCounter,
        retriever: Arc<dyn Retriever>,
    ) -> Self {
        let kernel =
            kernel.map(|k| k.with_plugins(tools::plugins(store.clone(), retriever.clone())));
        Self {
            store,
            kernel,
            embedder,
            tokens,
            retriever,
            planner: Planner::default(),
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
        let run = question.id.to_string();
        let kernel = kernel.for_run(&run, owner);
        let prepared = self
            .prepare(&kernel, owner, &chat, &history, content)
            .await?;
        // The engine's numbers for what the question asked open the answer, and stream first.
        let lead = prepared
            .looked_up
            .iter()
            .filter_map(tools::lead)
            .collect::<Vec<_>>()
            .join(" ");
        if let (Some(deltas), false) = (&deltas, lead.is_empty()) {
            let _ = deltas.send(format!("{lead}\n\n"));
        }
        let mut messages = prepared.assembled.messages.clone();
        // The local model does not call tools: the copilot looked up what it needs already.
        let rounds = if kernel.chat_model()?.calls_tools() {
            if let Some(system) = messages.first_mut() {
                system.content.push_str("\n\n");
                system.content.push_str(TOOL_INSTRUCTIONS);
            }
            TOOL_ROUNDS
        } else {
            0
        };
        let request = ChatRequest {
            messages,
            settings: prepared.assembled.settings.clone(),
            tools: vec![],
        };
        let (written, called) = kernel
            .chat_stream_with_tools(request, rounds, |text| {
                if let Some(deltas) = &deltas {
                    // A watcher who left does not stop the answer: it is still stored.
                    let _ = deltas.send(text.to_string());
                }
            })
            .await?;
        let passages = self.citable(owner, &prepared, &called).await?;
        let shown: String = prepared
            .assembled
            .messages
            .iter()
            .map(|m| m.content.clone())
            .chain(called.iter().map(ToolOutcome::shown))
            .collect::<Vec<_>>()
            .join("\n");
        let checked = match prose::clean(&written, content, &shown) {
            Some(text) => self.on_topic(&text, content).await?,
            None => None,
        };
        let (text, citations, written_by) = match checked {
            Some(text) => {
                let (text, citations) = self.cited(text, content, &passages).await?;
                (text, citations, WrittenBy::Model)
            }
            None => {
                tracing::info!(chat = %chat_id, written = %written, "the model's answer did not pass its checks; quoting the best source");
                let (text, citations) = self.fallback(content, &passages).await?;
                (text, citations, WrittenBy::Fallback)
            }
        };
        let text = if lead.is_empty() {
            text
        } else {
            format!("{lead}\n\n{text}")
        };
        let usage = kernel.ledger().for_run(&run);
        let tool_calls = prepared
            .looked_up
            .iter()
            .map(|o| ToolCallRecord::new(o, CalledBy::Copilot))
            .chain(
                called
                    .iter()
                    .map(|o| ToolCallRecord::new(o, CalledBy::Model)),
            )
            .collect();
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
            tool_calls,
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

    /// The prompt `question` would get in `chat` now, part by part. The copilot's own lookups
    /// run (they only read); nothing is sent to the model.
    pub async fn prompt_view(
        &self,
        owner: &str,
        chat_id: Uuid,
        question: &str,
    ) -> Result<PromptView, CopilotError> {
        let kernel = self.kernel.as_ref().ok_or(CopilotError::NoModel)?;
        let chat = self.store.chat(owner, chat_id).await?;
        let history = self.history(owner, chat_id).await?;
        let prepared = self
            .prepare(&kernel.for_user(owner), owner, &chat, &history, question)
            .await?;
        Ok(PromptView {
            query: prepared.query,
            looked_up: prepared
                .looked_up
                .iter()
                .map(|o| ToolCallRecord::new(o, CalledBy::Copilot))
                .collect(),
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

    /// Gathers a prompt for `question`: what the copilot looks up for it (through `kernel`, for
    /// the kernel's user), the memories it recalls, the passages it finds.
    async fn prepare(
        &self,
        kernel: &Kernel,
        owner: &str,
        chat: &Chat,
        history: &[(Author, String)],
        question: &str,
    ) -> Result<Prepared, CopilotError> {
        let query = prompt::standalone_query(question, history);
        let vector = self.embed_one(&query).await?;
        let planned = self
            .planner
            .plan(
                question,
                &vector,
                |texts| async move { self.embedder.embed(&texts).await },
                kernel.chat_model()?.calls_tools(),
            )
            .await?;
        let (looked_up, memories, passages) = tokio::join!(
            futures::future::join_all(planned.into_iter().map(|call| kernel.run_tool(call))),
            self.recall(owner, chat.id, &vector),
            tools::search(self.retriever.as_ref(), owner, &query, PASSAGES_PER_SOURCE),
        );
        let memories = memories?;
        let passages = passages.map_err(CopilotError::Retrieval)?;
        let remembered: Vec<Remembered> = memories
            .iter()
            .map(|m| Remembered {
                kind: m.kind.as_str(),
                text: m.text.clone(),
            })
            .collect();
        let figures = looked_up
            .iter()
            .map(ToolOutcome::shown)
            .collect::<Vec<_>>()
            .join("\n\n");
        let count = |text: &str| self.tokens.count(text);
        let assembled = prompt::assemble(
            &Inputs {
                persona: &chat.persona,
                figures: &figures,
                memories: &remembered,
                passages: &passages,
                history,
                question,
                memory_balance: chat.memory_balance,
            },
            &count,
            PROMPT_TOKENS,
            kernel,
        )
        .await?;
        let kept = assembled.memories_kept;
        Ok(Prepared {
            query,
            memories: memories.into_iter().take(kept).collect(),
            looked_up,
            assembled,
        })
    }

    /// What an answer may cite: the passages its prompt held, and those the model's own
    /// searches found (searched again: retrieval is deterministic, and the tool gave the model
    /// text, not passages).
    async fn citable(
        &self,
        owner: &str,
        prepared: &Prepared,
        called: &[ToolOutcome],
    ) -> Result<Vec<miyagi_memory::cite::Passage>, CopilotError> {
        let mut passages = prepared.assembled.passages.clone();
        for outcome in called
            .iter()
            .filter(|o| o.call.name == tools::SEARCH && o.result.is_ok())
        {
            let Some(query) = serde_json::from_str::<serde_json::Value>(&outcome.call.arguments)
                .ok()
                .and_then(|a| a["query"].as_str().map(str::to_string))
            else {
                continue;
            };
            let found = tools::search(self.retriever.as_ref(), owner, &query, PASSAGES_PER_SOURCE)
                .await
                .map_err(CopilotError::Retrieval)?;
            for passage in found {
                if !passages.iter().any(|p| p.chunk_id == passage.chunk_id) {
                    passages.push(passage);
                }
            }
        }
        Ok(passages)
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
