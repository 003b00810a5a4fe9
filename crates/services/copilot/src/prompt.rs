//! The prompt, assembled under a token budget.
//!
//! A small model's context is short and every token in it costs time before the first word, so
//! each part gets a share and the parts that can grow without bound are cut, never the whole:
//!
//! 1. Always whole: the instructions, the persona, the person's figures and the question
//!    (their lengths are bounded at the API's edge, so together they always fit).
//! 2. Passages: up to [`PASSAGE_SHARE`] of what is left, best first.
//! 3. What remains is split by the chat's `memoryBalance`: that share goes to long-term and
//!    working memories (most relevant first), the rest, and whatever the memories leave unused,
//!    to the chat's recent turns, newest first, so an old turn is the first thing forgotten.
//!
//! Counting is done by the caller's counter (the embedding model's tokenizer, a close estimate
//! of the chat model's own; [`PROMPT_TOKENS`] leaves room for the difference).

use miyagi_domain::chat::Author;
use std::sync::LazyLock;

use miyagi_kernel::{
    function::{Arguments, PromptFunction},
    ChatMessage, ExecutionSettings, Kernel, KernelError,
};
use miyagi_memory::cite::{self, Passage};
use serde_json::Value;

use crate::model::{PromptMessage, PromptPart};

/// The prompt's budget in counted tokens. SmolLM2 reads 8k tokens, but each prompt token costs
/// time before the first word streams; 1.5k holds a persona, the figures, five passages and a
/// few turns, and leaves the model's own tokenizer room to count higher than ours.
pub const PROMPT_TOKENS: usize = 1_536;
/// The passages' most of the flexible budget.
pub const PASSAGE_SHARE: f64 = 0.45;

/// The words around the parts live in `prompts/copilot/Answer`, so `miyagi eval` runs the very
/// prompt the copilot sends (`evals/copilot`).
static ANSWER: LazyLock<PromptFunction> = LazyLock::new(|| {
    PromptFunction::from_sk(
        "copilot",
        "Answer",
        include_str!("../../../../prompts/copilot/Answer/skprompt.txt"),
        Some(include_str!(
            "../../../../prompts/copilot/Answer/config.json"
        )),
    )
    .expect("the built-in prompt parses (tested)")
});

/// A memory as the prompt shows it.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub kind: &'static str,
    pub text: String,
}

pub struct Inputs<'a> {
    pub persona: &'a str,
    /// What the copilot's tools found about them: the profile, and any projection or
    /// rebalancing check the question called for.
    pub figures: &'a str,
    /// Most relevant first.
    pub memories: &'a [Remembered],
    /// Best first.
    pub passages: &'a [Passage],
    /// The chat's earlier turns, oldest first.
    pub history: &'a [(Author, String)],
    pub question: &'a str,
    /// 0..1, the memories' share of what the passages leave.
    pub memory_balance: f64,
}

pub struct Assembled {
    pub messages: Vec<ChatMessage>,
    /// The prompt's own: its length limit and greedy decoding, so the same question in the same
    /// chat gets the same answer.
    pub settings: ExecutionSettings,
    pub parts: Vec<PromptPart>,
    /// The memories kept, as indices into the inputs' (the first ones: they are ranked).
    pub memories_kept: usize,
    /// The passages shown, numbered from 1 in this order.
    pub passages: Vec<Passage>,
    pub total_tokens: usize,
}

impl Assembled {
    pub fn rendered(&self) -> Vec<PromptMessage> {
        self.messages
            .iter()
            .map(|m| PromptMessage {
                role: m.role.as_str().to_string(),
                content: m.content.clone(),
            })
            .collect()
    }
}

fn whole(name: &str, tokens: usize) -> PromptPart {
    PromptPart {
        name: name.into(),
        tokens,
        budget: None,
        kept: usize::from(tokens > 0),
        dropped: 0,
    }
}

/// Takes items in order while they fit in `budget`; returns how many and their tokens.
fn fill(costs: impl Iterator<Item = usize>, budget: usize) -> (usize, usize) {
    let (mut kept, mut used) = (0, 0);
    for cost in costs {
        if used + cost > budget {
            break;
        }
        kept += 1;
        used += cost;
    }
    (kept, used)
}

/// The prompt for `inputs` within `limit` counted tokens: the parts kept are the template's
/// arguments, and the chat's kept turns go between its system message and the question.
pub async fn assemble(
    inputs: &Inputs<'_>,
    count: &(dyn Fn(&str) -> usize + Sync),
    limit: usize,
    kernel: &Kernel,
) -> Result<Assembled, KernelError> {
    let fixed = [
        whole("instructions", count(ANSWER.template().source())),
        whole("persona", count(inputs.persona)),
        whole("figures", count(inputs.figures)),
        whole("question", count(inputs.question)),
    ];
    let flexible = limit.saturating_sub(fixed.iter().map(|p| p.tokens).sum());

    let passage_budget = (flexible as f64 * PASSAGE_SHARE) as usize;
    let passage_costs: Vec<usize> = inputs
        .passages
        .iter()
        .map(|p| count(&cite::sources_block(std::slice::from_ref(p))))
        .collect();
    let (passages_kept, passages_used) = fill(passage_costs.iter().copied(), passage_budget);

    let rest = flexible - passages_used;
    let memory_budget = (rest as f64 * inputs.memory_balance.clamp(0.0, 1.0)) as usize;
    let memory_lines: Vec<String> = inputs
        .memories
        .iter()
        .map(|m| format!("- ({}) {}", m.kind, m.text))
        .collect();
    let (memories_kept, memories_used) =
        fill(memory_lines.iter().map(|l| count(l) + 1), memory_budget);

    let history_budget = rest - memories_used;
    let (turns_kept, history_used) = fill(
        inputs.history.iter().rev().map(|(_, text)| count(text) + 4),
        history_budget,
    );

    let passages: Vec<Passage> = inputs.passages[..passages_kept].to_vec();
    let mut args = Arguments::new();
    let mut set = |name: &str, value: String| {
        args.insert(name.to_string(), Value::String(value));
    };
    set("persona", inputs.persona.to_string());
    set("figures", inputs.figures.to_string());
    set("question", inputs.question.to_string());
    // Left out, the prompt's defaults say there is nothing of the kind.
    if memories_kept > 0 {
        set("memories", memory_lines[..memories_kept].join("\n"));
    }
    if !passages.is_empty() {
        set(
            "sources",
            cite::sources_block(&passages).trim_end().to_string(),
        );
    }
    let request = ANSWER.request(kernel, args).await?;
    let mut messages = request.messages;
    let first_turn = inputs.history.len() - turns_kept;
    let question = messages.pop();
    messages.extend(
        inputs.history[first_turn..]
            .iter()
            .map(|(author, text)| match author {
                Author::User => ChatMessage::user(text.clone()),
                Author::Assistant => ChatMessage::assistant(text.clone()),
            }),
    );
    messages.extend(question);

    let flexible_part = |name: &str, tokens, budget, kept, of: usize| PromptPart {
        name: name.into(),
        tokens,
        budget: Some(budget),
        kept,
        dropped: of - kept,
    };
    let [instructions, persona, figures_part, question] = fixed;
    let parts = vec![
        instructions,
        persona,
        figures_part,
        flexible_part(
            "memories",
            memories_used,
            memory_budget,
            memories_kept,
            inputs.memories.len(),
        ),
        flexible_part(
            "passages",
            passages_used,
            passage_budget,
            passages_kept,
            inputs.passages.len(),
        ),
        flexible_part(
            "history",
            history_used,
            history_budget,
            turns_kept,
            inputs.history.len(),
        ),
        question,
    ];
    let total_tokens = parts.iter().map(|p| p.tokens).sum();
    Ok(Assembled {
        messages,
        settings: request.settings,
        parts,
        memories_kept,
        passages,
        total_tokens,
    })
}

/// The question as a search query that stands on its own. A follow-up ("and what about its
/// fees?") says little without the turn before it, so a short question or one that points back
/// is searched together with the person's previous question. Done without the model: a rewrite
/// by a 135M-parameter model would cost a second or more before the first word, and an
/// appended question keeps every word the person actually wrote.
pub fn standalone_query(question: &str, history: &[(Author, String)]) -> String {
    const POINTING_BACK: [&str; 10] = [
        "it", "its", "that", "this", "those", "these", "they", "them", "there", "then",
    ];
    let words: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let follow_up = words.len() < 6
        || words.iter().any(|w| POINTING_BACK.contains(&w.as_str()))
        || question.trim_start().to_lowercase().starts_with("and ")
        || question.to_lowercase().contains("what about");
    let previous = history
        .iter()
        .rev()
        .find(|(author, _)| *author == Author::User)
        .map(|(_, text)| text.as_str());
    match previous {
        Some(previous) if follow_up => format!("{} {}", previous.trim(), question.trim()),
        _ => question.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// One token per word: easy to reason about in a test.
    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn passage(n: u128, words: usize) -> Passage {
        Passage {
            chunk_id: Uuid::from_u128(n),
            document_id: Uuid::from_u128(100),
            document_name: "fees.md".into(),
            position: n as u32,
            section: None,
            text: vec!["fee"; words].join(" "),
            tokens: words as u32,
            relevance: 0.5,
        }
    }

    fn turns(n: usize) -> Vec<(Author, String)> {
        (0..n)
            .map(|i| {
                let author = if i % 2 == 0 {
                    Author::User
                } else {
                    Author::Assistant
                };
                (author, format!("turn {i} {}", ["word"; 18].join(" ")))
            })
            .collect()
    }

    fn memories(n: usize) -> Vec<Remembered> {
        (0..n)
            .map(|i| Remembered {
                kind: "fact",
                text: format!("memory {i} {}", ["word"; 8].join(" ")),
            })
            .collect()
    }

    fn inputs<'a>(
        memories: &'a [Remembered],
        passages: &'a [Passage],
        history: &'a [(Author, String)],
        balance: f64,
    ) -> Inputs<'a> {
        Inputs {
            persona: "You are a calm coach.",
            figures: "Ada, 40.",
            memories,
            passages,
            history,
            question: "How much should I save?",
            memory_balance: balance,
        }
    }

    async fn assemble(
        inputs: &Inputs<'_>,
        count: &(dyn Fn(&str) -> usize + Sync),
        limit: usize,
    ) -> Assembled {
        super::assemble(inputs, count, limit, &Kernel::builder().build())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_prompt_never_exceeds_its_budget_and_the_question_comes_last() {
        let (m, p, h) = (
            memories(30),
            (0..20).map(|i| passage(i, 60)).collect::<Vec<_>>(),
            turns(40),
        );
        let assembled = assemble(&inputs(&m, &p, &h, 0.5), &words, 600).await;
        assert!(assembled.total_tokens <= 600, "{}", assembled.total_tokens);
        let last = assembled.messages.last().unwrap();
        assert_eq!(last.content, "How much should I save?");
        assert!(assembled
            .parts
            .iter()
            .all(|p| p.budget.is_none_or(|b| p.tokens <= b)));
    }

    #[tokio::test]
    async fn the_newest_turns_are_kept_and_the_oldest_dropped() {
        let h = turns(40);
        let assembled = assemble(&inputs(&[], &[], &h, 0.5), &words, 300).await;
        let history = assembled
            .parts
            .iter()
            .find(|p| p.name == "history")
            .unwrap();
        assert!(history.kept > 0 && history.dropped > 0, "{history:?}");
        let texts: Vec<&str> = assembled.messages[1..assembled.messages.len() - 1]
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        assert!(texts.last().unwrap().starts_with("turn 39 "), "{texts:?}");
        assert!(!texts.iter().any(|t| t.starts_with("turn 0 ")));
    }

    #[tokio::test]
    async fn memory_balance_moves_budget_from_recent_turns_to_memories() {
        let (m, h) = (memories(40), turns(40));
        let mut kept = vec![];
        for balance in [0.1, 0.9, 0.0] {
            let a = assemble(&inputs(&m, &[], &h, balance), &words, 500).await;
            let part = |name| a.parts.iter().find(|p| p.name == name).unwrap().kept;
            kept.push((part("memories"), part("history")));
        }
        let [(low_memories, low_history), (high_memories, high_history), (none, _)] = kept[..]
        else {
            unreachable!("three balances")
        };
        assert!(
            high_memories > low_memories,
            "{low_memories} -> {high_memories}"
        );
        assert!(
            high_history < low_history,
            "{low_history} -> {high_history}"
        );
        assert_eq!(none, 0);
    }

    #[tokio::test]
    async fn budget_the_memories_leave_unused_goes_to_history() {
        let (m, h) = (memories(1), turns(40));
        let one_memory = assemble(&inputs(&m, &[], &h, 1.0), &words, 500).await;
        let history = one_memory
            .parts
            .iter()
            .find(|p| p.name == "history")
            .unwrap();
        assert!(history.kept > 10, "{history:?}");
    }

    #[tokio::test]
    async fn passages_shown_are_the_best_ones_and_numbered_as_kept() {
        let p: Vec<Passage> = (0..10).map(|i| passage(i, 50)).collect();
        let assembled = assemble(&inputs(&[], &p, &[], 0.5), &words, 400).await;
        assert!(!assembled.passages.is_empty() && assembled.passages.len() < 10);
        assert_eq!(assembled.passages[0].chunk_id, Uuid::from_u128(0));
        let system = &assembled.messages[0].content;
        assert!(system.contains("[1] fees.md"));
        assert!(!system.contains(&format!("[{}]", assembled.passages.len() + 1)));
    }

    #[test]
    fn a_follow_up_is_searched_with_the_question_before_it() {
        let history = vec![
            (Author::User, "Should I buy an index fund?".to_string()),
            (
                Author::Assistant,
                "Index funds are cheap and diversified.".to_string(),
            ),
        ];
        assert_eq!(
            standalone_query("What are its fees?", &history),
            "Should I buy an index fund? What are its fees?"
        );
        assert_eq!(
            standalone_query(
                "How do bond ladders work for a retirement income plan?",
                &history
            ),
            "How do bond ladders work for a retirement income plan?"
        );
        assert_eq!(
            standalone_query("What are its fees?", &[]),
            "What are its fees?"
        );
    }
}
