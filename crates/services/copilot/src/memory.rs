//! Which of a person's sentences are worth remembering, and what kind of memory each is.
//!
//! A memory is a sentence the person wrote, kept as they wrote it: the model only chooses among
//! them and names each one's kind, under a schema that lists the sentences as the only values it
//! may give. So a small model can misjudge what matters, but it cannot put words in a person's
//! mouth. Only statements about the person are offered (a first-person word, not a question),
//! and one close to something already remembered (cosine ≥ [`DUPLICATE_COSINE`]) is dropped.

use miyagi_domain::chat::MemoryKind;
use miyagi_kernel::{chat::ExecutionSettings, ChatMessage, ChatRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::MAX_MEMORY_CHARS;

/// Two memories this close say the same thing.
pub const DUPLICATE_COSINE: f32 = 0.9;
/// Most memories taken from one message.
pub const MAX_PER_MESSAGE: usize = 4;
/// Sentences shorter than this say too little to remember ("I see.").
const MIN_SENTENCE_CHARS: u64 = 12;

const FIRST_PERSON: [&str; 8] = ["i", "i'm", "i've", "my", "me", "we", "our", "us"];

const SYSTEM: &str = "You help a financial coach remember a person. \
From the person's message, pick the sentences worth remembering in later conversations, \
and give each one's kind: fact (something true about them, such as family, job, money or age), \
preference (how they like things done), goal (something they plan or want), \
context (only what this one conversation is about). \
Pick none when nothing in it is about them.";

/// The message's sentences that could be memories: statements in the first person.
pub fn candidates(message: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    for c in message.chars() {
        if c == '\n' {
            sentences.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
        if matches!(c, '.' | '!' | '?') {
            sentences.push(std::mem::take(&mut current));
        }
    }
    sentences.push(current);
    sentences
        .into_iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| {
            let words: Vec<String> = s
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .map(str::to_lowercase)
                .collect();
            (MIN_SENTENCE_CHARS..=MAX_MEMORY_CHARS).contains(&(s.chars().count() as u64))
                && !s.ends_with('?')
                && words.iter().any(|w| FIRST_PERSON.contains(&w.as_str()))
        })
        .fold(Vec::new(), |mut unique, s| {
            if !unique.contains(&s) {
                unique.push(s);
            }
            unique
        })
}

/// The request that asks the model to pick among `candidates`, and the schema that holds it to
/// them.
pub fn request(message: &str, candidates: &[String]) -> (ChatRequest, Value) {
    let kinds: Vec<&str> = MemoryKind::ALL.iter().map(|k| k.as_str()).collect();
    let schema = json!({
        "type": "object",
        "properties": {
            "memories": {
                "type": "array",
                "maxItems": candidates.len().min(MAX_PER_MESSAGE),
                "items": {
                    "type": "object",
                    "properties": {
                        "sentence": {"type": "string", "enum": candidates},
                        "kind": {"type": "string", "enum": kinds}
                    },
                    "required": ["sentence", "kind"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["memories"],
        "additionalProperties": false
    });
    let request = ChatRequest {
        messages: vec![
            ChatMessage::system(SYSTEM),
            ChatMessage::user(format!("The person wrote:\n{message}")),
        ],
        settings: ExecutionSettings {
            max_tokens: Some(60 + 50 * candidates.len().min(MAX_PER_MESSAGE) as u32),
            temperature: Some(0.0),
            ..Default::default()
        },
        tools: vec![],
    };
    (request, schema)
}

#[derive(Debug, Deserialize)]
pub struct Picked {
    pub memories: Vec<PickedMemory>,
}

#[derive(Debug, Deserialize)]
pub struct PickedMemory {
    pub sentence: String,
    pub kind: MemoryKind,
}

/// The picks worth keeping, in order: each sentence once, and none that repeats something
/// already remembered. `similar(i, j)` is the cosine of pick `i` with pick `j`; `known(i)` the
/// highest cosine of pick `i` with an existing memory.
pub fn keep(
    picks: &[PickedMemory],
    similar: impl Fn(usize, usize) -> f32,
    known: impl Fn(usize) -> f32,
) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..picks.len() {
        let repeats_kept = kept.iter().any(|&j| similar(i, j) >= DUPLICATE_COSINE);
        if !repeats_kept && known(i) < DUPLICATE_COSINE {
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_first_person_statements_are_candidates() {
        let found = candidates(
            "Hi! I plan to retire at 55. What fees should I watch for?\nMy wife and I have two kids; the weather is nice.",
        );
        assert_eq!(
            found,
            [
                "I plan to retire at 55.",
                "My wife and I have two kids; the weather is nice."
            ]
        );
    }

    #[test]
    fn a_question_alone_has_no_candidates_so_no_model_call() {
        assert!(candidates("What is an index fund?").is_empty());
        assert!(candidates("How should I invest my savings?").is_empty());
    }

    #[test]
    fn the_schema_offers_only_the_persons_own_sentences() {
        let found = candidates("I prefer index funds. I plan to retire at 55.");
        let (_, schema) = request("…", &found);
        let offered = &schema["properties"]["memories"]["items"]["properties"]["sentence"]["enum"];
        assert_eq!(
            offered,
            &json!(["I prefer index funds.", "I plan to retire at 55."])
        );
    }

    #[test]
    fn a_repeat_of_a_kept_or_known_memory_is_dropped() {
        let picks: Vec<PickedMemory> = ["a", "a again", "b", "c"]
            .iter()
            .map(|s| PickedMemory {
                sentence: s.to_string(),
                kind: MemoryKind::Fact,
            })
            .collect();
        let similar = |i: usize, j: usize| if (i, j) == (1, 0) { 0.95 } else { 0.1 };
        let known = |i: usize| if i == 3 { 0.91 } else { 0.2 };
        assert_eq!(keep(&picks, similar, known), [0, 2]);
    }
}
