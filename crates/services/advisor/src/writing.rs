//! How the advice is written: the prompt's arguments (the household and the engine's numbers in
//! plain words), the shape the model must answer in, the answer checked for sense and retried
//! once, and each recommendation's line in the engine's own words. The narrative opens with the
//! person's own figures, written here from the engine's numbers; the model writes the two
//! sentences after them, and nothing else. The model explains; it never decides.
//!
//! The model writes no note per asset class or stock: SmolLM2 wrote a bare number or a class
//! name as one of them in every answer measured (BENCHMARKS.md, "Why the first answer fails"),
//! so every answer was written twice, and the notes were half of what it decoded. Each line now
//! says the engine's action, the person's numbers and the engine's reason.

use std::collections::BTreeMap;

use miyagi_domain::user::UserProfile;
use miyagi_finance::{
    allocation::{Action, AssetClass, Drift},
    words::{money, percent},
};
use miyagi_kernel::{structured, ChatMessage, Kernel};
use miyagi_memory::cite::{self, Citation, Passage};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    error::AdvisorError,
    model::{
        AssetRecommendation, EngineResult, HouseholdSummary, PersonalizeRequest,
        StockRecommendation, Writing,
    },
    progress::Progress,
    prompts::Prompt,
    sense::Grounds,
    settle::{first_words, opening, settle, Review},
};

const DEFAULT_ADVISOR: &str = "a patient, plain-spoken fiduciary financial planner";
/// Citations the model may make: two keep a small model's answer inside its token budget.
const MAX_CITATIONS: usize = 2;

/// What the model's words are made of (a macro, so the patterns below can be `concat!`ed).
macro_rules! letters {
    () => {
        r"[a-zA-Z'()/&-]"
    };
}

/// A sentence of the model's: five to thirty words one space apart, the first capitalised, then
/// its end. A word is letters (with `'`, `-`, `/`, `&`, brackets), then perhaps a comma, colon or
/// semicolon. No digits: the person's figures are the opening's, so the model cannot state one
/// the engine did not give. One space, and punctuation only after a word: where SmolLM2 wanted a
/// digit it could not write, it wrote runs of spaces, or words strung with commas. A bounded
/// sentence cannot run on past the answer's budget and be cut mid-word.
const SENTENCE: &str = concat!(
    "[A-Z]",
    letters!(),
    "{0,20}[,;:]?( ",
    letters!(),
    "{1,20}[,;:]?){4,29}[.!?]"
);
/// The rest of the model's first sentence, after the code's first words.
const REST: &str = concat!(
    letters!(),
    "{1,20}[,;:]?( ",
    letters!(),
    "{1,20}[,;:]?){2,25}[.!?]"
);

/// The key of the model's sentences, named to sort before `citations`: written after its quote
/// of a passage, SmolLM2's narrative went on in the passage's words ("The second case shows why
/// rebalancing can be uncomfortable.") instead of speaking to the person.
const NARRATIVE_KEY: &str = "advice";

/// The model's part of the advice, in the shape [`written_schema`] forces.
#[derive(Debug, Deserialize)]
pub(crate) struct Answer {
    // [`NARRATIVE_KEY`]: serde's attribute takes a literal.
    #[serde(rename = "advice")]
    pub(crate) narrative: String,
}

/// The advice's words as a person reads them: the code's opening with their own figures, then
/// the model's sentences (or the engine's, where the model's failed twice), and the citations
/// verified against the passages given.
pub struct Checked {
    pub narrative: String,
    pub citations: Vec<Citation>,
    pub rejected_citations: Vec<String>,
    pub writing: Writing,
}

/// Writes the advice for the engine's numbers with the kernel's chat model, citing `passages`;
/// `progress` (when a person is watching) sees the narrative as it is written. An answer that
/// fails the checks for sense ([`Grounds`]) is asked for once more with the reasons.
pub async fn write(
    kernel: &Kernel,
    prompt: &Prompt,
    request: &PersonalizeRequest,
    profile: Option<&UserProfile>,
    engine: &EngineResult,
    passages: &[Passage],
    progress: Option<&Progress>,
) -> Result<Checked, AdvisorError> {
    let advisor = request
        .user_info
        .favorite_advisor
        .clone()
        .or_else(|| profile.and_then(|p| p.profile.favorite_advisor.clone()))
        .unwrap_or_else(|| DEFAULT_ADVISOR.to_string());
    let book = request
        .user_info
        .favorite_book
        .clone()
        .or_else(|| profile.and_then(|p| p.profile.favorite_book.clone()))
        .unwrap_or_default();
    let opening = opening(engine);
    let args: BTreeMap<String, Value> = [
        ("advisor", advisor),
        ("book", book),
        ("profile", describe_household(&engine.household)),
        ("facts", describe_engine(engine)),
        ("opening", opening.clone()),
        ("sources", cite::sources_block(passages)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::String(v)))
    .collect();
    let mut chat = prompt.function.request(kernel, args).await?;
    // The passages are left out of what the model's words are checked against: quoting them
    // is citing, and their figures are not the person's.
    let shown: String = chat
        .messages
        .iter()
        .map(|m| {
            passages.iter().fold(m.content.clone(), |text, p| {
                text.replace(p.text.trim(), "\n")
            })
        })
        .collect::<Vec<_>>()
        .join("\n");
    let grounds = Grounds::new(&shown, passages.len());
    // The opening is the code's, so a person watching sees their figures before the model's
    // first word.
    if let Some(progress) = progress {
        progress.narrative(format!("{opening} "));
    }
    let watch = progress.map(|progress| {
        let progress = progress.clone();
        structured::watch_field(NARRATIVE_KEY, move |text| progress.narrative(text))
    });
    let schema = written_schema(&first_words(engine));
    let ask = |chat, watch| {
        cite::ask_cited::<Answer>(
            kernel,
            chat,
            "advice",
            schema.clone(),
            passages,
            MAX_CITATIONS,
            watch,
        )
    };
    let first = ask(chat.clone(), watch).await?;
    let review = Review::of(&grounds, &first);
    let mut attempts = vec![(first, review)];
    if let Some(problem) = attempts[0].1.problem() {
        tracing::info!(
            problem,
            "the advice's first answer failed the checks for sense; asking again"
        );
        chat.messages.push(ChatMessage::user(format!(
            "Your answer could not be shown to the person: {problem}. Write the whole answer again without this problem."
        )));
        let second = ask(chat, None).await?;
        let review = Review::of(&grounds, &second);
        attempts.push((second, review));
    }
    Ok(settle(&opening, engine, attempts))
}

fn describe_household(h: &HouseholdSummary) -> String {
    format!(
        "{} years old, retiring at {}, household income {} a year, assets {}, liabilities {}, {} risk tolerance.",
        h.age,
        h.retirement_age,
        money(h.annual_income),
        money(h.assets),
        money(h.liabilities),
        h.tolerance.as_str()
    )
}

fn describe_engine(engine: &EngineResult) -> String {
    let mut lines = vec![format!(
        "Risk score {:.2} (capacity {:.2}, willingness {:.2}), {} years to retirement.",
        engine.risk.score,
        engine.risk.capacity,
        engine.risk.willingness,
        engine.risk.years_to_retirement
    )];
    for class in AssetClass::ALL {
        let target = engine.target.get(class);
        let line = match engine.drift.iter().find(|d| d.class == class) {
            Some(d) => format!(
                "{}: now {}, target {} -> {}.",
                class.as_str(),
                percent(d.current),
                percent(target),
                d.action.as_str()
            ),
            None => format!(
                "{}: target {} -> Buy toward it.",
                class.as_str(),
                percent(target)
            ),
        };
        lines.push(line);
    }
    for s in &engine.stocks.holdings {
        lines.push(format!(
            "{}: {} of the portfolio -> {} ({}).",
            s.symbol,
            percent(s.portfolio_weight),
            s.action.as_str(),
            s.reason
        ));
    }
    let end = engine.projection.at_retirement();
    lines.push(format!(
        "Projected wealth at retirement in today's money: median {}, 1 in 10 chance below {}, 1 in 10 above {}.",
        money(end.p50),
        money(end.p10),
        money(end.p90)
    ));
    lines.join("\n")
}

/// The shape the model answers in: two sentences, the first starting with `first_words`
/// (ask_cited adds the citations, which the decoder writes after them: it writes properties in
/// sorted order).
fn written_schema(first_words: &str) -> Value {
    let first_words = regex_syntax::escape(first_words);
    json!({
        "type": "object",
        "properties": {
            (NARRATIVE_KEY): {
                "type": "string",
                "pattern": format!("^{first_words}{REST} {SENTENCE}$")
            }
        },
        "required": [NARRATIVE_KEY],
        "additionalProperties": false
    })
}

/// Each asset class's line: the engine's action, the person's share against the target, and
/// how far apart the two are.
pub fn asset_recommendations(
    request: &PersonalizeRequest,
    engine: &EngineResult,
) -> Vec<AssetRecommendation> {
    AssetClass::ALL
        .iter()
        .map(|&class| {
            // Answer in the caller's words ("HomeEquity") where they used their own.
            let name = request
                .portfolio
                .iter()
                .find(|h| AssetClass::parse(&h.name) == Some(class))
                .map_or_else(|| class.as_str().to_string(), |h| h.name.clone());
            let target = engine.target.get(class);
            let drift = engine.drift.iter().find(|d| d.class == class);
            let (action, numbers) = match drift {
                Some(d) => (d.action, drift_words(d, target)),
                None => (
                    Action::Buy,
                    format!("build toward a {} target", percent(target)),
                ),
            };
            AssetRecommendation {
                name,
                action,
                current: drift.map(|d| d.current),
                target,
                gpt_recommendation: format!("{}: {numbers}.", action.as_str()),
            }
        })
        .collect()
}

fn drift_words(d: &Drift, target: f64) -> String {
    let points = format!("{:.0} points", d.drift.abs() * 100.0);
    let gap = match (d.action, d.class) {
        (Action::Hold, _) => "close enough to leave as it is".to_string(),
        (Action::Buy, _) => format!("{points} below it"),
        // A home is not sold to rebalance: above its cap, real estate stops growing instead.
        (Action::Sell, AssetClass::RealEstate) => {
            format!("{points} above it, so add no more to it")
        }
        (Action::Sell, _) => format!("{points} above it"),
    };
    format!(
        "{} of your portfolio against a {} target, {gap}",
        percent(d.current),
        percent(target)
    )
}

/// Each stock's line: the engine's action and its reason.
pub fn stock_recommendations(engine: &EngineResult) -> Vec<StockRecommendation> {
    engine
        .stocks
        .holdings
        .iter()
        .map(|s| StockRecommendation {
            symbol: s.symbol.clone(),
            action: s.action,
            gpt_recommendation: format!("{}: {}.", s.action.as_str(), s.reason),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        engine::{compute, household},
        model::fixtures::request,
    };

    fn engine() -> EngineResult {
        let r = request();
        compute(&household(&r.user_info, None).unwrap(), &r, None, None)
    }

    #[test]
    fn the_model_writes_two_sentences_after_the_engines_first_words_and_no_figures() {
        let validator =
            jsonschema::validator_for(&written_schema("Selling stocks and buying bonds helps "))
                .unwrap();
        let answer = |narrative: &str| json!({ (NARRATIVE_KEY): narrative });
        let first = "Selling stocks and buying bonds helps steady a portfolio that has run ahead.";
        let second = "Moving the excess into bonds steadies the ride toward retirement.";
        assert!(validator.is_valid(&answer(&format!("{first} {second}"))));
        assert!(
            !validator.is_valid(&answer(first)),
            "one sentence is a slogan"
        );
        assert!(
            !validator.is_valid(&answer(&format!("{second} {first}"))),
            "the first sentence starts with the engine's moves"
        );
        assert!(
            !validator.is_valid(&answer(&format!(
                "{first} Moving 60 percent of it into bonds steadies the ride."
            ))),
            "the figures are the engine's"
        );
        assert!(
            !validator.is_valid(&answer(&format!(
                "{first} The goal should be   in                 !"
            ))),
            "words are one space apart"
        );
        assert!(
            !validator.is_valid(&answer(&format!(
                "{first} It is for those,who,have,to,plan,ahead."
            ))),
            "a comma follows a word, not another comma's word"
        );
    }

    #[test]
    fn an_asset_line_says_the_engines_action_the_persons_share_and_the_gap() {
        let r = request();
        let engine = engine();
        let recs = asset_recommendations(&r, &engine);
        let stocks = recs.iter().find(|a| a.name == "Stocks").unwrap();
        let drift = engine
            .drift
            .iter()
            .find(|d| d.class == AssetClass::Stocks)
            .unwrap();
        assert_eq!(stocks.action, Action::Sell);
        assert_eq!(
            stocks.gpt_recommendation,
            format!(
                "Sell: 80% of your portfolio against a {} target, {:.0} points above it.",
                percent(drift.target),
                drift.drift * 100.0
            )
        );
    }

    #[test]
    fn real_estate_above_its_target_is_not_sold_but_no_longer_added_to() {
        let d = Drift {
            class: AssetClass::RealEstate,
            current: 0.4,
            target: 0.2,
            drift: 0.2,
            action: Action::Sell,
        };
        assert_eq!(
            drift_words(&d, 0.2),
            "40% of your portfolio against a 20% target, 20 points above it, so add no more to it"
        );
    }
}
