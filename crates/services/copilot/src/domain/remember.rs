//! What the copilot remembers of a person: recall by similarity for a prompt, memories read
//! off their messages (off the request path), and corrections they make.

use miyagi_domain::chat::MemoryKind;
use miyagi_kernel::KernelError;
use miyagi_memory::retrieve::cosine;
use uuid::Uuid;

use super::{Copilot, MIN_RECALL_COSINE};
use crate::{
    error::CopilotError,
    memory::{self, Picked},
    model::{Memory, Message},
    store::NewMemory,
};

impl Copilot {
    /// The memories relevant to the query embedded as `query`, most similar first.
    pub(super) async fn recall(
        &self,
        owner: &str,
        chat_id: Uuid,
        query: &[f32],
    ) -> Result<Vec<Memory>, CopilotError> {
        let candidates = self.store.recallable(owner, chat_id).await?;
        let mut scored: Vec<(f32, Memory)> = candidates
            .into_iter()
            .map(|(m, v)| (cosine(query, &v), m))
            .filter(|(score, _)| *score >= MIN_RECALL_COSINE)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored.into_iter().map(|(_, m)| m).collect())
    }

    pub(super) async fn embed_one(&self, text: &str) -> Result<Vec<f32>, KernelError> {
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
        kind: Option<MemoryKind>,
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
