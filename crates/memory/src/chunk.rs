//! Token-aware chunking. Chunks are sized in the embedding model's own tokens (so none is cut
//! short by the model's input limit), split at the largest structure that fits (headings, then
//! paragraphs, sentences, words), and overlap their neighbours so a fact that straddles a
//! boundary is still found whole.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

/// One piece of a document, as stored and embedded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0-based order in the document.
    pub position: u32,
    pub text: String,
    /// Byte offset of the chunk in the extracted text.
    pub offset: u32,
    /// The headings the chunk sits under, outermost first (`Fees › Expense ratios`).
    pub section: Option<String>,
    pub tokens: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSettings {
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

impl Default for ChunkSettings {
    /// all-MiniLM-L6-v2 was trained on inputs of up to 128 word pieces and reads at most 256:
    /// 200 keeps whole paragraphs together without the model truncating them.
    fn default() -> Self {
        Self {
            max_tokens: 200,
            overlap_tokens: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk overlap ({overlap}) must be smaller than the chunk size ({max})")]
    Overlap { overlap: usize, max: usize },
}

/// Counts tokens with the embedding model's tokenizer.
#[derive(Clone)]
pub struct TokenCounter(Arc<Tokenizer>);

impl TokenCounter {
    /// `tokenizer` must not pad or truncate (either would distort the counts); both are
    /// switched off here.
    pub fn new(mut tokenizer: Tokenizer) -> Self {
        tokenizer.with_padding(None);
        let _ = tokenizer.with_truncation(None);
        Self(Arc::new(tokenizer))
    }

    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        Tokenizer::from_file(path)
            .map(Self::new)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn count(&self, text: &str) -> usize {
        self.0
            .encode(text, false)
            .map(|e| e.len())
            // The tokenizer only fails on pathological input; a byte-based estimate keeps
            // chunking going rather than losing the document.
            .unwrap_or(text.len() / 4)
    }
}

impl ChunkSizer for TokenCounter {
    fn size(&self, chunk: &str) -> usize {
        self.count(chunk)
    }
}

#[derive(Clone)]
pub struct Chunker {
    counter: TokenCounter,
    settings: ChunkSettings,
}

impl Chunker {
    pub fn new(counter: TokenCounter, settings: ChunkSettings) -> Result<Self, ChunkError> {
        if settings.overlap_tokens >= settings.max_tokens {
            return Err(ChunkError::Overlap {
                overlap: settings.overlap_tokens,
                max: settings.max_tokens,
            });
        }
        Ok(Self { counter, settings })
    }

    pub fn counter(&self) -> &TokenCounter {
        &self.counter
    }

    /// Splits `text`; Markdown is split on its structure and each chunk records its headings.
    pub fn chunk(&self, text: &str, markdown: bool) -> Vec<Chunk> {
        let config = ChunkConfig::new(self.settings.max_tokens)
            .with_sizer(self.counter.clone())
            .with_overlap(self.settings.overlap_tokens)
            .expect("overlap is checked in Chunker::new");
        let pieces: Vec<(usize, &str)> = if markdown {
            MarkdownSplitter::new(config).chunk_indices(text).collect()
        } else {
            TextSplitter::new(config).chunk_indices(text).collect()
        };
        let headings = if markdown { headings(text) } else { Vec::new() };
        pieces
            .into_iter()
            .enumerate()
            .map(|(position, (offset, piece))| Chunk {
                position: position as u32,
                text: piece.to_string(),
                offset: offset as u32,
                section: section_at(&headings, offset),
                tokens: self.counter.count(piece) as u32,
            })
            .collect()
    }
}

/// ATX headings (`## Title`) with their byte offsets and levels, outside fenced code.
fn headings(text: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let mut offset = 0;
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&level) && trimmed[level..].starts_with(' ') {
                found.push((
                    offset,
                    level,
                    trimmed[level..].trim().trim_end_matches('#').trim(),
                ));
            }
        }
        offset += line.len();
    }
    found
}

/// The heading path in force at `offset`. A chunk that starts with a heading belongs under it.
fn section_at(headings: &[(usize, usize, &str)], offset: usize) -> Option<String> {
    let mut path: Vec<(usize, &str)> = Vec::new();
    for &(_, level, title) in headings.iter().take_while(|(at, ..)| *at <= offset) {
        path.retain(|(l, _)| *l < level);
        path.push((level, title));
    }
    (!path.is_empty()).then(|| path.iter().map(|(_, t)| *t).collect::<Vec<_>>().join(" › "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heading_path_follows_levels() {
        let text = "# Fees\nintro\n## Expense ratios\nratio text\n## Loads\nload text\n# Taxes\nx";
        let h = headings(text);
        assert_eq!(section_at(&h, 0).as_deref(), Some("Fees"));
        let ratio = text.find("ratio text").unwrap();
        assert_eq!(
            section_at(&h, ratio).as_deref(),
            Some("Fees › Expense ratios")
        );
        let load = text.find("load text").unwrap();
        assert_eq!(section_at(&h, load).as_deref(), Some("Fees › Loads"));
        assert_eq!(section_at(&h, text.len() - 1).as_deref(), Some("Taxes"));
    }

    #[test]
    fn hashes_inside_code_fences_are_not_headings() {
        let text = "# Real\n```\n# not a heading\n```\nafter";
        let h = headings(text);
        assert_eq!(h.len(), 1);
        assert_eq!(section_at(&h, text.len() - 1).as_deref(), Some("Real"));
    }
}
