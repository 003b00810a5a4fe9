//! Which of the person's figures a prompt asks to see. Words that name one card decide at once;
//! a prompt that names several, or none, is compared by meaning (MiniLM) with what each card
//! shows, and asks for none when it is near none of them. Nothing is drawn on a guess.
//!
//! Meaning, not the chat model: SmolLM2 choosing among the cards under a schema read "how much
//! could I have when I stop working?" as spending; a sentence embedding places it by what it is
//! about, in milliseconds, without waiting in the chat model's queue.

use miyagi_kernel::{EmbeddingModel, KernelError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// The finance engine's target mix for the person.
    Allocation,
    /// Their wealth projected over `years` (until they retire when `None`).
    Projection { years: Option<u32> },
    /// The stocks their paper account holds.
    Positions,
    /// Their usual month of income and spending.
    Spending,
}

/// What each card is called, and the words that name it.
const CARDS: [(&str, &[&str]); 4] = [
    (
        "allocation",
        &[
            "allocation",
            "mix",
            "asset class",
            "split",
            "diversif",
            "pie",
            "donut",
            "stocks and bonds",
        ],
    ),
    (
        "projection",
        &[
            "projection",
            "project",
            "retire",
            "future",
            "grow",
            "forecast",
            "monte carlo",
            "years from now",
            "wealth in",
        ],
    ),
    (
        "positions",
        &[
            "position",
            "holding",
            "paper account",
            "paper trad",
            "shares",
            "stocks i own",
            "my trades",
        ],
    ),
    (
        "spending",
        &[
            "spend",
            "budget",
            "expense",
            "income",
            "cash flow",
            "usual month",
            "each month",
            "monthly",
        ],
    ),
];

/// What each card shows, in words a request for it might use: what a prompt's meaning is
/// compared with when its words name no card, or several.
const MEANINGS: [(&str, &str); 4] = [
    ("allocation", "how my money is divided between stocks, bonds, cash and real estate; the mix of my portfolio"),
    ("projection", "how much money I could have in the future, when I retire or stop working; my savings growing over the years"),
    ("positions", "the stocks and shares I bought and hold in my trading account"),
    ("spending", "what I spend and earn each month; my bills, my budget and where my paycheck goes"),
];

/// The similarity (MiniLM, cosine) a prompt needs with a card's meaning to ask for it. Measured
/// on eleven prompts: requests for a card in other words scored 0.42–0.58 with it ("where does
/// my salary go" 0.49 with spending); requests for other pictures (a cat, a lighthouse, a
/// dragon) at most 0.16 with any. An idiom ("my nest egg at 65", 0.20) is missed: refused, not
/// misdrawn.
const NEAREST: f32 = 0.3;

/// The card the words name, when they name exactly one.
pub fn by_words(prompt: &str) -> Option<Card> {
    let lowered = prompt.to_lowercase();
    let named: Vec<&str> = CARDS
        .iter()
        .filter(|(_, words)| words.iter().any(|w| lowered.contains(w)))
        .map(|(name, _)| *name)
        .collect();
    match named.as_slice() {
        [one] => card(one, &lowered),
        _ => None,
    }
}

/// The card whose meaning is nearest the prompt's, if near enough; `meanings` are the
/// embeddings of [`MEANINGS`], in order.
pub async fn by_meaning(
    embedder: &dyn EmbeddingModel,
    meanings: &[Vec<f32>],
    prompt: &str,
) -> Result<Option<Card>, KernelError> {
    let asked = embedder.embed(&[prompt.to_string()]).await?.remove(0);
    let scored = MEANINGS.iter().zip(meanings).map(|((name, _), meaning)| {
        let similarity: f32 = asked.iter().zip(meaning).map(|(a, b)| a * b).sum();
        (*name, similarity)
    });
    let (name, similarity) = scored
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("there are cards");
    tracing::debug!(prompt, card = name, similarity, "the nearest card");
    Ok((similarity >= NEAREST)
        .then(|| card(name, &prompt.to_lowercase()))
        .flatten())
}

/// The embeddings `by_meaning` compares prompts with.
pub async fn meanings(embedder: &dyn EmbeddingModel) -> Result<Vec<Vec<f32>>, KernelError> {
    let texts: Vec<String> = MEANINGS.iter().map(|(_, m)| m.to_string()).collect();
    embedder.embed(&texts).await
}

fn card(name: &str, lowered: &str) -> Option<Card> {
    Some(match name {
        "allocation" => Card::Allocation,
        "projection" => Card::Projection {
            years: years_in(lowered),
        },
        "positions" => Card::Positions,
        "spending" => Card::Spending,
        _ => return None,
    })
}

/// "in 10 years", "over the next 25 years": the number before "year", when it is a horizon a
/// projection can run (1 to 80).
fn years_in(lowered: &str) -> Option<u32> {
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).find_map(|pair| {
        let years: u32 = pair[0].parse().ok()?;
        (pair[1].starts_with("year") && (1..=80).contains(&years)).then_some(years)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_that_name_one_card_choose_it() {
        assert_eq!(by_words("A card of my target mix"), Some(Card::Allocation));
        assert_eq!(
            by_words("What do I spend each month?"),
            Some(Card::Spending)
        );
        assert_eq!(by_words("my paper positions"), Some(Card::Positions));
        assert_eq!(
            by_words("my retirement projection"),
            Some(Card::Projection { years: None })
        );
    }

    #[test]
    fn a_projection_runs_over_the_years_the_prompt_names() {
        assert_eq!(
            by_words("project my wealth over the next 15 years"),
            Some(Card::Projection { years: Some(15) })
        );
        assert_eq!(
            by_words("project my wealth in 500 years"),
            Some(Card::Projection { years: None })
        );
    }

    #[test]
    fn words_for_several_cards_or_none_are_left_to_the_model() {
        assert_eq!(by_words("my mix and what I spend"), None);
        assert_eq!(by_words("a lighthouse at dusk"), None);
    }
}
