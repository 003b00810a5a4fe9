//! Grounded answers with citations, and the verifier that keeps citations honest.
//!
//! The model is given numbered passages and asked for an answer plus citations, each a source
//! number and a sentence quoted from it. The schema it must follow lists the sentences it may
//! quote as an enum, so a model that constrains its decoding (the local one) can only quote real
//! sentences. Other models may still invent or misattribute a quote, so [`verify`] checks every
//! citation against the passage it names, and the ones that fail are reported, not shown.

use std::collections::BTreeSet;

use miyagi_kernel::{structured::TextWatcher, ChatRequest, EmbeddingModel, Kernel, KernelError};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::retrieve::cosine;

/// A retrieved passage, as shown to a model and as a citation points into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Passage {
    pub chunk_id: Uuid,
    pub document_id: Uuid,
    pub document_name: String,
    pub position: u32,
    pub section: Option<String>,
    pub text: String,
    pub tokens: u32,
    /// Cosine similarity to the query.
    pub relevance: f32,
}

/// Where a statement comes from: the document, the chunk, the words quoted and how relevant the
/// passage was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    pub document_id: Uuid,
    pub document_name: String,
    pub chunk_id: Uuid,
    pub position: u32,
    pub snippet: String,
    pub score: f32,
}

impl Citation {
    /// A citation of `snippet` within `passage`.
    pub fn of(passage: &Passage, snippet: impl Into<String>) -> Self {
        Self {
            document_id: passage.document_id,
            document_name: passage.document_name.clone(),
            chunk_id: passage.chunk_id,
            position: passage.position,
            snippet: snippet.into(),
            score: passage.relevance,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroundedAnswer {
    pub answer: String,
    pub citations: Vec<Citation>,
    /// Citations the model made that the verifier refused, with the reason.
    pub rejected: Vec<String>,
}

/// Whitespace-insensitive, case-insensitive containment: PDF extraction and models both vary
/// spacing and capitalisation, and neither changes what was said.
pub fn contains_snippet(text: &str, snippet: &str) -> bool {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let snippet = squash(snippet);
    !snippet.is_empty() && squash(text).contains(&snippet)
}

/// Checks each citation against the retrieved passages: the chunk must be among them and must
/// contain the snippet. Returns the reason for each citation that fails.
pub fn verify(citations: &[Citation], passages: &[Passage]) -> Vec<Result<(), String>> {
    citations
        .iter()
        .map(|c| {
            let passage = passages
                .iter()
                .find(|p| p.chunk_id == c.chunk_id)
                .ok_or_else(|| {
                    format!("chunk {} was not among the retrieved passages", c.chunk_id)
                })?;
            if contains_snippet(&passage.text, &c.snippet) {
                Ok(())
            } else {
                Err(format!(
                    "\"{}\" does not appear in {} (chunk {})",
                    c.snippet, passage.document_name, passage.position
                ))
            }
        })
        .collect()
}

/// Sentences of `text` worth quoting: long enough to say something, short enough to quote.
/// Lines of a paragraph are joined; headings, list items and blank lines end a sentence; a
/// full stop ends one only before a space (so `1.5%` stays whole).
pub fn quotable_sentences(text: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, sentences: &mut Vec<String>| {
        let sentence = current.trim();
        if !sentence.is_empty() {
            sentences.push(sentence.to_string());
        }
        current.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim();
        let heading = trimmed.starts_with('#');
        if trimmed.is_empty() || heading || trimmed.starts_with(['-', '*', '>', '|']) {
            flush(&mut current, &mut sentences);
        }
        let content = trimmed.trim_start_matches(['#', '-', '*', '>']).trim();
        if !current.is_empty() && !content.is_empty() {
            current.push(' ');
        }
        let mut chars = content.chars().peekable();
        while let Some(c) = chars.next() {
            current.push(c);
            if matches!(c, '.' | '?' | '!') && chars.peek().is_none_or(|n| n.is_whitespace()) {
                flush(&mut current, &mut sentences);
            }
        }
        if heading {
            flush(&mut current, &mut sentences);
        }
    }
    flush(&mut current, &mut sentences);
    sentences
        .into_iter()
        .filter(|s| (25..=300).contains(&s.len()) && !s.contains('|'))
        .collect()
}

/// Most sentences offered to the model as quotable (keeps the constraint small).
const MAX_QUOTABLE: usize = 60;

/// The passages as a model is shown them: numbered from 1, with document and section.
pub fn sources_block(passages: &[Passage]) -> String {
    passages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "[{}] {} — {}\n{}\n\n",
                i + 1,
                p.document_name,
                p.section.as_deref().unwrap_or(""),
                p.text
            )
        })
        .collect()
}

/// JSON schema of a list of at most `max` citations of `passages` (numbered as in
/// [`sources_block`]) whose quotes can only be the passages' own sentences.
pub fn citations_schema(passages: &[Passage], max: usize) -> Value {
    let quotable: BTreeSet<String> = passages
        .iter()
        .flat_map(|p| quotable_sentences(&p.text))
        .take(MAX_QUOTABLE)
        .collect();
    let quote = if quotable.is_empty() {
        json!({"type": "string", "maxLength": 300})
    } else {
        json!({"type": "string", "enum": quotable})
    };
    json!({
        "type": "array",
        "maxItems": max,
        "items": {
            "type": "object",
            "properties": {
                "source": {"type": "integer", "minimum": 1, "maximum": passages.len().max(1)},
                "quote": quote
            },
            "required": ["source", "quote"],
            "additionalProperties": false
        }
    })
}

/// A citation as a model writes it under [`citations_schema`].
#[derive(Debug, Clone, Deserialize)]
pub struct RawCitation {
    pub source: u32,
    pub quote: String,
}

/// The model's citations checked against `passages`: the verified ones, and the reason each
/// refused one was refused. A real quote under the wrong source number (a small model numbers
/// carelessly) is cited to the passage that holds it: what the reader is shown is still a
/// sentence of the passage it names. Each quote is cited once.
pub fn resolve(raw: Vec<RawCitation>, passages: &[Passage]) -> (Vec<Citation>, Vec<String>) {
    let mut citations: Vec<Citation> = Vec::new();
    let mut rejected = Vec::new();
    for c in raw {
        let Some(named) = (c.source as usize)
            .checked_sub(1)
            .and_then(|i| passages.get(i))
        else {
            rejected.push(format!("source [{}] does not exist", c.source));
            continue;
        };
        let holder = std::iter::once(named)
            .chain(passages.iter())
            .find(|p| contains_snippet(&p.text, &c.quote));
        let citation = Citation::of(holder.unwrap_or(named), c.quote);
        match verify(std::slice::from_ref(&citation), passages).remove(0) {
            Ok(())
                if citations
                    .iter()
                    .any(|k| k.chunk_id == citation.chunk_id && k.snippet == citation.snippet) => {}
            Ok(()) => citations.push(citation),
            Err(reason) => rejected.push(reason),
        }
    }
    (citations, rejected)
}

/// Citations for an answer already written: the passages' sentences closest in meaning to one of
/// the answer's sentences (cosine ≥ `min_cosine`, best first, at most `max`, one per passage).
/// For prose written freely (streamed as plain text) rather than under a schema: each quote is
/// a sentence of the passage it names by construction, and [`verify`] still checks it.
pub async fn attribute(
    embedder: &dyn EmbeddingModel,
    answer: &str,
    passages: &[Passage],
    max: usize,
    min_cosine: f32,
) -> Result<Vec<Citation>, KernelError> {
    let claims = quotable_sentences(answer);
    let quotable: Vec<(usize, String)> = passages
        .iter()
        .enumerate()
        .flat_map(|(i, p)| quotable_sentences(&p.text).into_iter().map(move |q| (i, q)))
        // A heading names a topic; it states nothing an answer could rest on.
        .filter(|(_, q)| q.ends_with(['.', '!', '?']))
        .take(MAX_QUOTABLE)
        .collect();
    if claims.is_empty() || quotable.is_empty() || max == 0 {
        return Ok(vec![]);
    }
    let texts: Vec<String> = claims
        .iter()
        .cloned()
        .chain(quotable.iter().map(|(_, q)| q.clone()))
        .collect();
    let vectors = embedder.embed(&texts).await?;
    let (claim_vectors, quote_vectors) = vectors.split_at(claims.len());
    let mut scored: Vec<(f32, usize)> = quote_vectors
        .iter()
        .enumerate()
        .map(|(q, v)| {
            let best = claim_vectors
                .iter()
                .map(|c| cosine(c, v))
                .fold(f32::MIN, f32::max);
            (best, q)
        })
        .filter(|(score, _)| *score >= min_cosine)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut cited_passages = BTreeSet::new();
    let citations: Vec<Citation> = scored
        .into_iter()
        .filter(|(_, q)| cited_passages.insert(quotable[*q].0))
        .take(max)
        .map(|(_, q)| Citation::of(&passages[quotable[q].0], quotable[q].1.clone()))
        .collect();
    Ok(verify(&citations, passages)
        .into_iter()
        .zip(citations)
        .filter_map(|(ok, c)| ok.is_ok().then_some(c))
        .collect())
}

/// A model's structured answer together with its citations, checked against the sources.
#[derive(Debug)]
pub struct Cited<T> {
    pub answer: T,
    pub citations: Vec<Citation>,
    /// Citations the verifier refused, with the reason.
    pub rejected: Vec<String>,
}

/// Asks the kernel's chat model for an answer of `schema` (a JSON object schema) plus at most
/// `max_citations` citations of `passages`, which the request's messages must show as
/// [`sources_block`] numbers them. The citations field is added to the schema here, so every
/// grounded writer constrains and verifies quotes the same way; `watch` sees the raw text as it
/// is written.
pub async fn ask_cited<T: DeserializeOwned>(
    kernel: &Kernel,
    request: ChatRequest,
    name: &str,
    mut schema: Value,
    passages: &[Passage],
    max_citations: usize,
    watch: Option<TextWatcher>,
) -> Result<Cited<T>, KernelError> {
    let object = schema
        .as_object_mut()
        .filter(|o| o.get("type") == Some(&json!("object")))
        .ok_or_else(|| {
            KernelError::BadResponse(format!("{name}: the schema must describe an object"))
        })?;
    object
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(|p| {
            p.insert(
                "citations".into(),
                citations_schema(passages, max_citations),
            )
        });
    if let Some(required) = object
        .entry("required")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .filter(|r| !r.contains(&json!("citations")))
    {
        required.push(json!("citations"));
    }
    let mut value = match watch {
        None => kernel.structured_value(request, name, schema, 2).await?,
        Some(watch) => {
            kernel
                .structured_value_watched(request, name, schema, 2, watch)
                .await?
        }
    };
    let raw: Vec<RawCitation> = value
        .as_object_mut()
        .and_then(|o| o.remove("citations"))
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| KernelError::BadResponse(format!("{name} citations: {e}")))?
        .unwrap_or_default();
    let answer = serde_json::from_value(value)
        .map_err(|e| KernelError::BadResponse(format!("{name}: {e}")))?;
    let (citations, rejected) = resolve(raw, passages);
    Ok(Cited {
        answer,
        citations,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(text: &str) -> Passage {
        Passage {
            chunk_id: Uuid::from_u128(7),
            document_id: Uuid::from_u128(1),
            document_name: "fees.md".into(),
            position: 2,
            section: Some("Fees".into()),
            text: text.into(),
            tokens: 20,
            relevance: 0.8,
        }
    }

    #[test]
    fn a_citation_quoting_the_passage_verifies_despite_spacing_and_case() {
        let p = passage("A fee of 1%\nper year costs a\n lot over thirty years.");
        let c = Citation::of(&p, "a fee of 1% per year   costs a lot");
        assert_eq!(verify(&[c], &[p]), vec![Ok(())]);
    }

    #[test]
    fn an_invented_quote_or_an_unretrieved_chunk_is_refused() {
        let p = passage("Index funds track a market.");
        let invented = Citation::of(&p, "Index funds always beat the market.");
        let mut elsewhere = Citation::of(&p, "Index funds track a market.");
        elsewhere.chunk_id = Uuid::from_u128(99);
        let results = verify(&[invented, elsewhere], &[p]);
        assert!(results[0].as_ref().unwrap_err().contains("does not appear"));
        assert!(results[1].as_ref().unwrap_err().contains("not among"));
    }

    #[test]
    fn quotable_sentences_are_whole_sentences_without_markup() {
        let text = "## Fees\nA fee of 1% a year compounds against you.\n- Short.\nLow-cost funds keep more of the return for you. Another sentence\ncontinues on the next line.";
        assert_eq!(
            quotable_sentences(text),
            vec![
                "A fee of 1% a year compounds against you.",
                "Low-cost funds keep more of the return for you.",
                "Another sentence continues on the next line.",
            ]
        );
    }

    #[test]
    fn the_citations_schema_only_allows_the_passages_own_sentences() {
        let passages = [
            passage("Cash is safe from market swings."),
            passage("Bonds pay interest."),
        ];
        let schema = citations_schema(&passages, 3);
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator
            .is_valid(&json!([{"source": 1, "quote": "Cash is safe from market swings."}])));
        assert!(
            !validator.is_valid(&json!([{"source": 1, "quote": "Cash is risky in every market."}]))
        );
        assert!(!validator
            .is_valid(&json!([{"source": 3, "quote": "Cash is safe from market swings."}])));
    }

    #[test]
    fn resolving_keeps_verified_citations_and_reports_the_rest() {
        let passages = [passage("Cash is safe from market swings.")];
        let (kept, refused) = resolve(
            vec![
                RawCitation {
                    source: 1,
                    quote: "Cash is safe from market swings.".into(),
                },
                RawCitation {
                    source: 2,
                    quote: "Cash is safe from market swings.".into(),
                },
            ],
            &passages,
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(refused, vec!["source [2] does not exist".to_string()]);
    }

    #[test]
    fn a_real_quote_under_the_wrong_number_is_cited_to_the_passage_that_holds_it_once() {
        let mut holder = passage("Cash is safe from market swings.");
        holder.chunk_id = Uuid::from_u128(8);
        let passages = [passage("Bonds fall less than stocks."), holder];
        let quote = |source| RawCitation {
            source,
            quote: "Cash is safe from market swings.".into(),
        };
        let (kept, refused) = resolve(vec![quote(1), quote(2)], &passages);
        assert_eq!(refused, Vec::<String>::new());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].chunk_id, passages[1].chunk_id);
    }

    /// Bag-of-words vectors: sentences sharing words are close, which is all attribution needs
    /// to be tested as logic (the real embedder is the copilot's tests' business).
    struct Words;

    #[async_trait::async_trait]
    impl EmbeddingModel for Words {
        fn model_id(&self) -> &str {
            "words"
        }
        fn dimensions(&self) -> usize {
            64
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, KernelError> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.0f32; 64];
                    for w in t
                        .to_lowercase()
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| w.len() > 3)
                    {
                        v[w.bytes().fold(7usize, |h, b| h * 31 + b as usize) % 64] += 1.0;
                    }
                    v
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn an_answer_is_attributed_to_the_passage_sentence_it_restates() {
        let fees = passage("Index funds charge low fees every single year. The weather was fine in June last year.");
        let mut other = passage("Bonds pay interest until their maturity date arrives.");
        other.chunk_id = Uuid::from_u128(8);
        let passages = [other, fees];
        let answer = "Index funds charge low fees, and those fees compound every year.";
        let cited = attribute(&Words, answer, &passages, 2, 0.5).await.unwrap();
        assert_eq!(cited.len(), 1, "{cited:?}");
        assert_eq!(
            cited[0].snippet,
            "Index funds charge low fees every single year."
        );
        assert_eq!(cited[0].chunk_id, Uuid::from_u128(7));
        let unrelated = attribute(
            &Words,
            "Pay off your credit card debt first of all.",
            &passages,
            2,
            0.5,
        )
        .await
        .unwrap();
        assert!(unrelated.is_empty(), "{unrelated:?}");
    }
}
