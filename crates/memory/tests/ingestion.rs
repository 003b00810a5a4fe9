//! Extraction and chunking on real files and the real embedding model's tokenizer.

use std::sync::OnceLock;

use miyagi_memory::{
    chunk::{ChunkSettings, Chunker, TokenCounter},
    extract::{extract, Format},
    testing,
};
use miyagi_models::cache::{ModelCache, MINILM};

fn tokens() -> TokenCounter {
    static COUNTER: OnceLock<TokenCounter> = OnceLock::new();
    COUNTER
        .get_or_init(|| {
            let dir = ModelCache::new(ModelCache::default_dir())
                .ensure(&MINILM, false)
                .expect("MiniLM pulls");
            TokenCounter::from_file(&dir.join("tokenizer.json")).unwrap()
        })
        .clone()
}

fn chunker(max_tokens: usize, overlap_tokens: usize) -> Chunker {
    Chunker::new(
        tokens(),
        ChunkSettings {
            max_tokens,
            overlap_tokens,
        },
    )
    .unwrap()
}

#[test]
fn a_pdf_file_yields_its_text_with_paragraphs() {
    let pdf = testing::pdf(&[
        "Rebalancing brings a portfolio back to its targets.",
        "",
        "Bands of five percentage points limit trading.",
    ]);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = extract(Format::Pdf, &pdf).unwrap();
    assert!(
        text.contains("Rebalancing brings a portfolio back to its targets."),
        "{text:?}"
    );
    assert!(
        text.contains("Bands of five percentage points limit trading."),
        "{text:?}"
    );
}

#[test]
fn chunks_never_exceed_the_token_limit_and_cover_the_whole_text() {
    let paragraph = "Low-cost index funds spread money across a whole market. ".repeat(12);
    let text = (0..8)
        .map(|i| format!("## Part {i}\n\n{paragraph}"))
        .collect::<Vec<_>>()
        .join("\n\n");
    let chunks = chunker(64, 8).chunk(&text, true);
    assert!(chunks.len() > 8, "{}", chunks.len());
    for c in &chunks {
        assert!(
            c.tokens <= 64,
            "chunk {} has {} tokens",
            c.position,
            c.tokens
        );
        assert_eq!(
            &text[c.offset as usize..c.offset as usize + c.text.len()],
            c.text
        );
    }
    let positions: Vec<u32> = chunks.iter().map(|c| c.position).collect();
    assert_eq!(positions, (0..chunks.len() as u32).collect::<Vec<_>>());
    assert!(chunks.last().unwrap().text.ends_with("market."));
}

#[test]
fn markdown_chunks_break_at_headings_and_know_their_section() {
    let text = "# Fees\n\nExpense ratios are charged every year on the whole balance.\n\n\
                ## Loads\n\nA sales load is a one-off commission on purchases.\n\n\
                # Taxes\n\nTax-advantaged accounts defer or remove tax on growth.";
    let chunks = chunker(24, 0).chunk(text, true);
    let sections: Vec<Option<&str>> = chunks.iter().map(|c| c.section.as_deref()).collect();
    assert!(sections.contains(&Some("Fees › Loads")), "{chunks:#?}");
    let taxes = chunks
        .iter()
        .find(|c| c.text.contains("Tax-advantaged"))
        .unwrap();
    assert_eq!(taxes.section.as_deref(), Some("Taxes"));
    assert!(
        chunks
            .iter()
            .all(|c| !(c.text.contains("Expense") && c.text.contains("Tax-advantaged"))),
        "a chunk spans two top-level sections: {chunks:#?}"
    );
}

#[test]
fn neighbouring_chunks_overlap_so_a_boundary_fact_is_whole_in_one() {
    let text = (0..40)
        .map(|i| format!("Sentence {i} talks about saving."))
        .collect::<Vec<_>>()
        .join(" ");
    let chunks = chunker(40, 12).chunk(&text, false);
    assert!(chunks.len() >= 3);
    for pair in chunks.windows(2) {
        let end_of_first = pair[0].offset as usize + pair[0].text.len();
        assert!(
            (pair[1].offset as usize) < end_of_first,
            "chunks {} and {} do not overlap",
            pair[0].position,
            pair[1].position
        );
    }
}

#[test]
fn an_overlap_as_large_as_the_chunk_is_refused() {
    let err = Chunker::new(
        tokens(),
        ChunkSettings {
            max_tokens: 50,
            overlap_tokens: 50,
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("overlap"), "{err}");
}
